"""MinioBackendStatic against the real server: own writes, skipped identical uploads, errors, URLs."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from minio import Minio
from minio.error import S3Error

import django_minio_backend
from django_minio_backend import MinioBackendStatic, MinioManifestStaticStorage, models
from django_minio_backend.errors import BucketNotFoundError
from tests.collecting import counted_static, requests_by_kind
from tests.counting import CountingPoolManager
from tests.helpers import http_status, put_bytes, stored_names


def test_static_storages_keep_their_import_and_migration_paths() -> None:
    assert models.MinioBackendStatic is django_minio_backend.MinioBackendStatic
    assert models.MinioManifestStaticStorage is MinioManifestStaticStorage
    for storage, path in (
        (MinioBackendStatic(), "django_minio_backend.models.MinioBackendStatic"),
        (MinioManifestStaticStorage(), "django_minio_backend.models.MinioManifestStaticStorage"),
    ):
        assert storage.deconstruct()[0] == path  # type: ignore[attr-defined]


def test_own_writes_update_the_listing_and_identical_bytes_are_not_uploaded(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio, counting_pool: CountingPoolManager
) -> None:
    storage = counted_static(fresh_bucket, counting_pool)
    with storage.holding_listing():
        storage.save("new.css", ContentFile(b"body{}"))
        assert storage.exists("new.css") and storage.size("new.css") == 6
        storage.save("new.css", ContentFile(b"body{}"))  # same bytes: nothing to send
        storage.save("new.css", ContentFile(b"body{x}"))
        storage.delete("new.css")
        assert not storage.exists("new.css")
    assert requests_by_kind(counting_pool) == {"LIST": 1, "PUT": 2, "DELETE": 1}
    assert "new.css" not in stored_names(admin_client, fresh_bucket)


def test_failures_raise_instead_of_answering(live_settings: dict[str, Any], counting_pool: CountingPoolManager) -> None:
    storage = counted_static("no-such-bucket-for-static", counting_pool)
    with pytest.raises(S3Error, match="NoSuchBucket"), storage.holding_listing():
        pass
    with pytest.raises(BucketNotFoundError):  # a HEAD's 404 is checked against the bucket, never taken as "absent"
        storage.exists("a.css")
    with pytest.raises(S3Error, match="NoSuchBucket"):  # the listing that answers the next lookup fails too
        storage.exists("a.css")
    assert requests_by_kind(counting_pool) == {"LIST": 2, "HEAD": 2}


def test_static_urls_are_public_and_unsigned(
    live_settings: dict[str, Any], fresh_bucket: str, counting_pool: CountingPoolManager
) -> None:
    storage = counted_static(fresh_bucket, counting_pool)
    storage.save("img/logo one.svg", ContentFile(b"<svg/>"))
    url = storage.url("img/logo one.svg")
    assert "X-Amz" not in url and "?" not in url
    assert http_status(url) == 200


def test_delete_many_batches_and_updates_the_listing(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio, counting_pool: CountingPoolManager
) -> None:
    names = [f"d/{index}.css" for index in range(5)]
    for name in names:
        put_bytes(admin_client, name, b"x", bucket=fresh_bucket)
    storage = counted_static(fresh_bucket, counting_pool)
    with storage.holding_listing():
        storage.delete_many(names[:4])
        assert [storage.exists(name) for name in names] == [False, False, False, False, True]
    assert requests_by_kind(counting_pool) == {"LIST": 1, "POST": 1}
    assert stored_names(admin_client, fresh_bucket) == {names[4]}
