"""The listing rule: HEAD for a few lookups, then one listing, bounded staleness; against the real server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from minio import Minio

from django_minio_backend.listing import md5_from_etag
from tests.collecting import counted_static, requests_by_kind
from tests.counting import CountingPoolManager
from tests.helpers import put_bytes


def test_md5_is_read_from_a_single_part_etag_only() -> None:
    assert md5_from_etag('"0CC175B9C0F1B6A831C399E269772661"') == "0cc175b9c0f1b6a831c399e269772661"
    assert md5_from_etag("0cc175b9c0f1b6a831c399e269772661-3") is None  # multipart
    assert md5_from_etag(None) is None


def test_a_few_lookups_use_head_and_then_one_listing_answers(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio, counting_pool: CountingPoolManager
) -> None:
    put_bytes(admin_client, "a.css", b"aaa", bucket=fresh_bucket)
    put_bytes(admin_client, "dir/b.css", b"bb", bucket=fresh_bucket)
    storage = counted_static(fresh_bucket, counting_pool)
    assert storage.exists("a.css")
    assert storage.size("dir/b.css") == 2
    assert requests_by_kind(counting_pool) == {"HEAD": 2}
    assert not storage.exists("missing.css")  # the third lookup lists the bucket
    assert storage.exists("dir/b.css")
    assert storage.size("a.css") == 3
    assert (
        storage.get_modified_time("a.css")
        == admin_client.stat_object(bucket_name=fresh_bucket, object_name="a.css").last_modified
    )
    with pytest.raises(FileNotFoundError):
        storage.size("missing.css")
    assert requests_by_kind(counting_pool) == {"HEAD": 2, "LIST": 1}


def test_other_writers_are_seen_once_the_listing_expires(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio, counting_pool: CountingPoolManager
) -> None:
    ttl = 0.5
    storage = counted_static(fresh_bucket, counting_pool, ttl=ttl)
    with storage.holding_listing():
        pass
    put_bytes(admin_client, "late.css", b"x", bucket=fresh_bucket)
    assert not storage.exists("late.css")  # the listing is current and predates the write
    time.sleep(ttl * 2)
    assert storage.exists("late.css")  # expired: asked again
    assert requests_by_kind(counting_pool) == {"LIST": 1, "HEAD": 1}


def test_ttl_zero_turns_the_listing_off(
    live_settings: dict[str, Any], fresh_bucket: str, counting_pool: CountingPoolManager
) -> None:
    storage = counted_static(fresh_bucket, counting_pool, ttl=0)
    with storage.holding_listing():
        for _ in range(4):
            assert not storage.exists("nothing.css")
    # four lookups, plus one bucket check (once per process) telling "no such object" from "no such bucket"
    assert requests_by_kind(counting_pool) == {"HEAD": 5}
