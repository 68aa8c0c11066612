"""The Storage API against a real S3 server."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.test import override_settings
from minio import Minio
from minio.error import S3Error

from django_minio_backend import MinioBackend
from django_minio_backend.errors import BucketNotFoundError
from tests.helpers import fetch, http_status, private_storage, put_bytes, stored_names
from tests.servers import S3Server, free_ports
from tests.settings import PRIVATE_BUCKET


def test_saved_file_reads_back_in_both_modes_with_its_content_type(
    media: MinioBackend, admin_client: Minio, unique: str
) -> None:
    name = media.save(f"{unique}/hello.txt", ContentFile(b"hello world"))
    assert name == f"{unique}/hello.txt"
    stat = admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=name)
    assert stat.content_type == "text/plain"
    assert stat.size == 11
    with media.open(name, "rb") as handle:
        assert handle.read() == b"hello world"
    with media.open(name, "r") as text:
        assert text.read() == "hello world"


def test_unknown_extension_is_octet_stream(media: MinioBackend, admin_client: Minio, unique: str) -> None:
    name = media.save(f"{unique}/blob.unknownext", ContentFile(b"\x00\x01"))
    assert admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=name).content_type == (
        "application/octet-stream"
    )


def test_save_streams_a_real_file(media: MinioBackend, tmp_path: Any, unique: str) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "big.bin"
    path.write_bytes(payload)
    with path.open("rb") as handle:
        name = media.save(f"{unique}/big.bin", File(handle))
    assert media.size(name) == len(payload)
    with media.open(name) as stored:
        assert stored.read() == payload


def test_collision_keeps_first_object(media: MinioBackend, unique: str) -> None:
    first = media.save(f"{unique}/same.txt", ContentFile(b"first"))
    second = media.save(f"{unique}/same.txt", ContentFile(b"second"))
    assert first != second
    assert second.startswith(f"{unique}/same_") and second.endswith(".txt")
    assert media.open(first).read() == b"first"
    assert media.open(second).read() == b"second"


def test_get_available_name_called_directly_still_checks(media: MinioBackend, unique: str) -> None:
    """Only save() skips the exists() check (its write is create-only); a direct caller gets a free name."""
    taken = media.save(f"{unique}/free.txt", ContentFile(b"x"))
    assert media.get_available_name(f"{unique}/other.txt") == f"{unique}/other.txt"
    available = media.get_available_name(taken)
    assert available != taken and available.startswith(f"{unique}/free_") and not media.exists(available)


def test_max_length_is_kept_when_renaming(media: MinioBackend, unique: str) -> None:
    name = f"{unique}/{'n' * 30}.tar.gz"
    limit = len(name)
    first = media.save(name, ContentFile(b"first"), max_length=limit)
    second = media.save(name, ContentFile(b"second"), max_length=limit)  # taken: the alternative is shortened
    assert first == name
    assert second != name and len(second) <= limit and second.endswith(".tar.gz")
    too_long = media.save(f"{unique}/{'m' * 40}.txt", ContentFile(b"long"), max_length=limit)
    assert len(too_long) <= limit and too_long.endswith(".txt")  # Django's truncation
    assert [media.open(saved).read() for saved in (first, second, too_long)] == [b"first", b"second", b"long"]
    short = media.save(f"{unique}/ab.txt", ContentFile(b"short"), max_length=len(f"{unique}/ab.txt"))
    with pytest.raises(SuspiciousFileOperation):  # no room for an alternative name, like Django
        media.save(short, ContentFile(b"third"), max_length=len(short))
    assert media.open(short).read() == b"short"


def test_replace_existing_overwrites_in_place(live_settings: dict[str, Any], unique: str) -> None:
    storage = private_storage(replace_existing=True)
    first = storage.save(f"{unique}/same.txt", ContentFile(b"first"))
    second = storage.save(f"{unique}/same.txt", ContentFile(b"second"))
    assert first == second
    assert storage.open(first).read() == b"second"


@pytest.mark.parametrize("name", ["../escape.txt", "/abs.txt", "a/../../b.txt", "a//b.txt"])
def test_bad_names_are_refused(media: MinioBackend, name: str) -> None:
    with pytest.raises(SuspiciousFileOperation):
        media.save(name, ContentFile(b"x"))
    with pytest.raises(SuspiciousFileOperation):
        media.exists(name)


@pytest.mark.parametrize("replace_existing", [False, True])
def test_a_backslash_in_a_saved_name_is_refused(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, replace_existing: bool
) -> None:
    """SeaweedFS stores `a\\b.txt` as `a/b.txt`: the row would name an object that the listing never shows."""
    storage = private_storage(replace_existing=replace_existing)
    with pytest.raises(SuspiciousFileOperation, match="backslash"):
        storage.save(f"{unique}\\a.txt", ContentFile(b"x"))
    assert stored_names(admin_client, PRIVATE_BUCKET, unique) == set()


def test_names_with_a_backslash_stored_earlier_can_still_be_read(
    media: MinioBackend, admin_client: Minio, unique: str
) -> None:
    """Only new saves are refused: rows naming an object written before keep their URL, size and content."""
    name = f"{unique}\\old.txt"
    put_bytes(admin_client, name, b"old")
    assert media.exists(name) and media.size(name) == 3
    assert media.open(name).read() == b"old"
    assert fetch(media.url(name)) == b"old"
    media.delete(name)
    assert not media.exists(name)


def test_a_deleted_object_is_gone_and_deleting_it_again_is_not_an_error(media: MinioBackend, unique: str) -> None:
    name = media.save(f"{unique}/a.bin", ContentFile(b"12345"))
    assert media.exists(name)
    assert media.size(name) == 5
    media.delete(name)
    assert not media.exists(name)
    with pytest.raises(FileNotFoundError):
        media.size(name)
    media.delete(name)  # deleting a missing object is fine


def test_open_missing_raises_file_not_found(media: MinioBackend, unique: str) -> None:
    with pytest.raises(FileNotFoundError):
        media.open(f"{unique}/missing.txt")


def test_append_mode_is_refused(media: MinioBackend, unique: str) -> None:
    with pytest.raises(ValueError, match="cannot be appended to"):
        media.open(f"{unique}/x.txt", "ab")  # "wb" writes a new object: tests/test_writer.py


def test_listdir_splits_one_level_into_directories_and_files(media: MinioBackend, unique: str) -> None:
    for name in ("top.txt", "sub/inner.txt", "sub/deeper/x.txt", "other/y.txt"):
        media.save(f"{unique}/{name}", ContentFile(b"x"))
    directories, files = media.listdir(unique)
    assert sorted(directories) == ["other", "sub"]
    assert files == ["top.txt"]
    assert media.listdir(f"{unique}/sub/") == (["deeper"], ["inner.txt"])


def test_listdir_returns_more_files_than_one_listing_page_holds(
    media: MinioBackend, admin_client: Minio, unique: str
) -> None:
    count = 1005
    for index in range(count):
        put_bytes(admin_client, f"{unique}/many/{index:05d}", b"")
    _, files = media.listdir(f"{unique}/many")
    assert len(files) == count


def test_modified_time_is_aware_and_recent(media: MinioBackend, unique: str) -> None:
    name = media.save(f"{unique}/t.txt", ContentFile(b"x"))
    modified = media.get_modified_time(name)
    assert modified.tzinfo is not None
    assert abs(datetime.now(tz=UTC) - modified) < timedelta(minutes=5)
    assert media.get_created_time(name) == modified
    with override_settings(USE_TZ=False):
        assert media.get_modified_time(name).tzinfo is None


def test_accessed_time_and_local_path_are_not_implemented(media: MinioBackend) -> None:
    with pytest.raises(NotImplementedError):
        media.get_accessed_time("x")
    with pytest.raises(NotImplementedError):
        media.path("x")


@pytest.mark.parametrize("name", ["plain.txt", "with space.txt", "hash#and?query.txt", "ünï/ファイル.txt", "a+b%c~d"])
def test_private_url_is_presigned_and_works(media: MinioBackend, unique: str, name: str) -> None:
    stored = media.save(f"{unique}/{name}", ContentFile(b"secret"))
    url = media.url(stored)
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=7200" in url
    assert fetch(url) == b"secret"
    unsigned = url.split("?")[0]
    assert http_status(unsigned) == 403


@pytest.mark.parametrize("name", ["plain.txt", "with space.txt", "hash#and?query.txt", "ünï/ファイル.txt"])
def test_public_url_is_plain_and_works(public_media: MinioBackend, unique: str, name: str) -> None:
    stored = public_media.save(f"{unique}/{name}", ContentFile(b"public"))
    url = public_media.url(stored)
    assert "?" not in url and "#" not in url and " " not in url
    assert fetch(url) == b"public"


def test_url_signs_response_parameters_and_a_shorter_expiry(media: MinioBackend, unique: str) -> None:
    stored = media.save(f"{unique}/report.bin", ContentFile(b"data"))
    url = media.url(
        stored, parameters={"response-content-disposition": 'attachment; filename="r.bin"'}, expire=timedelta(minutes=5)
    )
    assert "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Disposition"] == 'attachment; filename="r.bin"'
    with pytest.raises(ValueError):
        media.url(stored, expire=timedelta(days=8))


def test_external_endpoint_urls_use_external_host(options: dict[str, Any]) -> None:
    storage = MinioBackend(
        bucket_name=PRIVATE_BUCKET,
        MINIO_ENDPOINT="127.0.0.1:9",  # unreachable: building URLs must not touch the network
        MINIO_EXTERNAL_ENDPOINT="files.example.com",
        MINIO_EXTERNAL_ENDPOINT_USE_HTTPS=True,
    )
    started = time.monotonic()
    url = storage.url("a b.txt")
    assert time.monotonic() - started < 1.0
    assert url.startswith(f"https://files.example.com/{PRIVATE_BUCKET}/a%20b.txt?")


def test_storages_on_one_endpoint_share_one_client(media: MinioBackend, public_media: MinioBackend) -> None:
    assert media.client is public_media.client


def test_wrong_credentials_raise_not_false(options: dict[str, Any], unique: str) -> None:
    storage = MinioBackend(bucket_name=PRIVATE_BUCKET, MINIO_SECRET_KEY="wrong-secret")
    with pytest.raises(S3Error):
        storage.exists(f"{unique}/anything")
    with pytest.raises(S3Error):
        storage.save(f"{unique}/x.txt", ContentFile(b"x"))


def test_unreachable_server_raises_in_bounded_time(live_settings: dict[str, Any], unique: str) -> None:
    (port,) = free_ports(1)
    storage = MinioBackend(
        bucket_name=PRIVATE_BUCKET,
        MINIO_ENDPOINT=f"127.0.0.1:{port}",
        MINIO_CONNECT_TIMEOUT=1.0,
        MINIO_READ_TIMEOUT=2.0,
    )
    for call in (lambda: storage.exists("a"), lambda: storage.size("a"), lambda: storage.save("a", ContentFile(b""))):
        started = time.monotonic()
        with pytest.raises(Exception) as info:
            call()
        assert not isinstance(info.value, FileNotFoundError)
        assert time.monotonic() - started < 15


def test_blackholed_server_times_out(live_settings: dict[str, Any]) -> None:
    """A server that accepts but never answers must not hang exists() for the SDK's 5 minutes."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        storage = MinioBackend(
            bucket_name=PRIVATE_BUCKET,
            MINIO_ENDPOINT=f"127.0.0.1:{port}",
            MINIO_CONNECT_TIMEOUT=1.0,
            MINIO_READ_TIMEOUT=1.0,
        )
        started = time.monotonic()
        with pytest.raises(Exception) as info:
            storage.exists("a")
        assert not isinstance(info.value, FileNotFoundError)
        assert time.monotonic() - started < 15


def test_is_minio_available_answers_true_when_up_and_names_a_closed_port_when_down(
    media: MinioBackend, s3_server: S3Server
) -> None:
    status = media.is_minio_available()
    assert status, status.details
    (port,) = free_ports(1)
    down = MinioBackend(bucket_name=PRIVATE_BUCKET, MINIO_ENDPOINT=f"127.0.0.1:{port}").is_minio_available()
    assert not down
    assert f"127.0.0.1:{port}" in down.details


def test_missing_bucket_is_not_a_missing_file(live_settings: dict[str, Any], unique: str) -> None:
    storage = MinioBackend(bucket_name=f"absent-{unique}", storage_name="default")
    with pytest.raises(BucketNotFoundError, match="does not exist"):
        storage.exists("a.txt")
    with pytest.raises(BucketNotFoundError):
        storage.size("a.txt")
    assert storage.exists("") is False


def test_empty_name_is_the_bucket_root(media: MinioBackend) -> None:
    assert media.exists("") is True
