"""MinioBackendStatic's listing-backed lookups and the manifest variant, against the real server."""

from __future__ import annotations

import io
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.template import Context, Template
from minio import Minio
from minio.error import S3Error

import django_minio_backend
from django_minio_backend import MinioBackendStatic, MinioManifestStaticStorage, models
from django_minio_backend.listing import md5_from_etag
from tests.collecting import collect_setup, requests_by_kind, stored_names, touch
from tests.counting import CountingPoolManager
from tests.servers import http_status

MANIFEST = "django_minio_backend.models.MinioManifestStaticStorage"


def counted(bucket: str, ttl: float = 60.0) -> tuple[MinioBackendStatic, CountingPoolManager]:
    pool = CountingPoolManager()
    storage = MinioBackendStatic(bucket_name=bucket, MINIO_HTTP_CLIENT=pool, MINIO_STATIC_LISTING_TTL=ttl)
    return storage, pool


def put(admin_client: Minio, bucket: str, name: str, data: bytes) -> None:
    admin_client.put_object(bucket_name=bucket, object_name=name, data=io.BytesIO(data), length=len(data))


def test_import_paths_and_migration_paths() -> None:
    assert models.MinioBackendStatic is django_minio_backend.MinioBackendStatic
    assert models.MinioManifestStaticStorage is MinioManifestStaticStorage
    assert MinioBackendStatic().deconstruct()[0] == "django_minio_backend.models.MinioBackendStatic"  # type: ignore[attr-defined]
    assert MinioManifestStaticStorage().deconstruct()[0] == MANIFEST  # type: ignore[attr-defined]


def test_md5_from_etag() -> None:
    assert md5_from_etag('"0CC175B9C0F1B6A831C399E269772661"') == "0cc175b9c0f1b6a831c399e269772661"
    assert md5_from_etag("0cc175b9c0f1b6a831c399e269772661-3") is None  # multipart
    assert md5_from_etag(None) is None


def test_a_few_lookups_use_head_and_then_one_listing_answers(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio
) -> None:
    put(admin_client, fresh_bucket, "a.css", b"aaa")
    put(admin_client, fresh_bucket, "dir/b.css", b"bb")
    storage, pool = counted(fresh_bucket)
    assert storage.exists("a.css")
    assert storage.size("dir/b.css") == 2
    assert requests_by_kind(pool) == {"HEAD": 2}
    assert not storage.exists("missing.css")  # the third lookup lists the bucket
    assert storage.exists("dir/b.css")
    assert storage.size("a.css") == 3
    assert (
        storage.get_modified_time("a.css")
        == admin_client.stat_object(bucket_name=fresh_bucket, object_name="a.css").last_modified
    )
    with pytest.raises(FileNotFoundError):
        storage.size("missing.css")
    assert requests_by_kind(pool) == {"HEAD": 2, "LIST": 1}


def test_own_writes_update_the_listing_and_identical_bytes_are_not_uploaded(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio
) -> None:
    storage, pool = counted(fresh_bucket)
    with storage.holding_listing():
        storage.save("new.css", ContentFile(b"body{}"))
        assert storage.exists("new.css") and storage.size("new.css") == 6
        storage.save("new.css", ContentFile(b"body{}"))  # same bytes: nothing to send
        storage.save("new.css", ContentFile(b"body{x}"))
        storage.delete("new.css")
        assert not storage.exists("new.css")
    assert requests_by_kind(pool) == {"LIST": 1, "PUT": 2, "DELETE": 1}
    assert "new.css" not in stored_names(admin_client, fresh_bucket)


def test_other_writers_are_seen_once_the_listing_expires(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio
) -> None:
    ttl = 0.5
    storage, pool = counted(fresh_bucket, ttl=ttl)
    with storage.holding_listing():
        pass
    put(admin_client, fresh_bucket, "late.css", b"x")
    assert not storage.exists("late.css")  # the listing is current and predates the write
    time.sleep(ttl * 2)
    assert storage.exists("late.css")  # expired: asked again
    assert requests_by_kind(pool) == {"LIST": 1, "HEAD": 1}


def test_ttl_zero_turns_the_listing_off(live_settings: dict[str, Any], fresh_bucket: str) -> None:
    storage, pool = counted(fresh_bucket, ttl=0)
    with storage.holding_listing():
        for _ in range(4):
            assert not storage.exists("nothing.css")
    assert requests_by_kind(pool) == {"HEAD": 4}


def test_failures_raise_instead_of_answering(live_settings: dict[str, Any]) -> None:
    storage, pool = counted("no-such-bucket-for-static")
    with pytest.raises(S3Error, match="NoSuchBucket"), storage.holding_listing():
        pass
    storage.exists("a.css")  # answered by HEAD (which cannot tell a missing bucket from a missing key)
    storage.exists("a.css")
    with pytest.raises(S3Error, match="NoSuchBucket"):  # the listing that would answer the third lookup fails
        storage.exists("a.css")
    assert requests_by_kind(pool) == {"LIST": 2, "HEAD": 2}


def test_static_urls_are_public_and_unsigned(live_settings: dict[str, Any], fresh_bucket: str) -> None:
    storage, _ = counted(fresh_bucket)
    storage.save("img/logo one.svg", ContentFile(b"<svg/>"))
    url = storage.url("img/logo one.svg")
    assert "X-Amz" not in url and "?" not in url
    assert http_status(url) == 200


def write_site(root: Path) -> None:
    (root / "img").mkdir(parents=True)
    (root / "css").mkdir(parents=True)
    (root / "img" / "logo.png").write_bytes(b"\x89PNG logo")
    (root / "css" / "site.css").write_text('body { background: url("../img/logo.png"); }\n')
    (root / "css" / "plain.css").write_text("p { margin: 0; }\n")


def render_static(name: str) -> str:
    return Template("{% load static %}{% static name %}").render(Context({"name": name}))


def test_manifest_round_trip(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio, tmp_path: Path
) -> None:
    write_site(tmp_path)
    pool = CountingPoolManager()
    with collect_setup(live_settings, fresh_bucket, tmp_path, pool, backend=MANIFEST):
        call_command("collectstatic", interactive=False, verbosity=0)
        first = requests_by_kind(pool)
    names = stored_names(admin_client, fresh_bucket)
    manifest = json.loads(admin_client.get_object(bucket_name=fresh_bucket, object_name="staticfiles.json").read())
    hashed = manifest["paths"]
    assert set(hashed) == {"img/logo.png", "css/site.css", "css/plain.css"}
    assert names == {*hashed, *hashed.values(), "staticfiles.json"}
    assert first == {"LIST": 1, "PUT": 7}  # 3 originals, 3 hashed copies, the manifest

    with collect_setup(live_settings, fresh_bucket, tmp_path, pool, backend=MANIFEST):  # a new web process
        site_url = render_static("css/site.css")
        assert render_static("img/logo.png").endswith("/" + hashed["img/logo.png"])
        assert requests_by_kind(pool) == {"GET": 1}  # the manifest, read once
        assert "X-Amz" not in site_url
        endpoint = live_settings["staticfiles"]["OPTIONS"]["MINIO_ENDPOINT"]
        assert site_url == f"http://{endpoint}/{fresh_bucket}/{hashed['css/site.css']}"
        with urllib.request.urlopen(site_url, timeout=10) as response:
            body = response.read().decode()
        assert hashed["img/logo.png"].split("/")[-1] in body

    with collect_setup(live_settings, fresh_bucket, tmp_path, pool, backend=MANIFEST):  # unchanged re-run
        call_command("collectstatic", interactive=False, verbosity=0)
        assert requests_by_kind(pool) == {"LIST": 1}


def test_manifest_changed_file_gets_a_new_name(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio, tmp_path: Path
) -> None:
    write_site(tmp_path)
    pool = CountingPoolManager()
    with collect_setup(live_settings, fresh_bucket, tmp_path, pool, backend=MANIFEST):
        call_command("collectstatic", interactive=False, verbosity=0)
        storage = storages["staticfiles"]
        assert isinstance(storage, MinioManifestStaticStorage)
        old = storage.hashed_files["css/plain.css"]
    (tmp_path / "css" / "plain.css").write_text("p { margin: 1px; }\n")
    touch(tmp_path / "css" / "plain.css")
    with collect_setup(live_settings, fresh_bucket, tmp_path, pool, backend=MANIFEST):
        call_command("collectstatic", interactive=False, verbosity=0)
        kinds = requests_by_kind(pool)
    with collect_setup(live_settings, fresh_bucket, tmp_path, pool, backend=MANIFEST):
        new_url = render_static("css/plain.css")
    new = new_url.split(f"/{fresh_bucket}/")[1]
    assert new != old and new.startswith("css/plain.") and new in stored_names(admin_client, fresh_bucket)
    assert kinds == {"LIST": 1, "PUT": 3}  # the original, its new hashed copy, the manifest
    assert http_status(new_url) == 200


def test_manifest_storage_builds_without_network(live_settings: dict[str, Any]) -> None:
    pool = CountingPoolManager()
    storage = MinioManifestStaticStorage(bucket_name="no-such-bucket-for-manifest", MINIO_HTTP_CLIENT=pool)
    assert pool.count() == 0
    with pytest.raises(S3Error):  # a missing bucket is an error, not "no manifest"
        _ = storage.hashed_files
    assert isinstance(storages["staticfiles"], MinioBackendStatic)
