"""MINIO_OBJECT_PARAMETERS and get_object_parameters(): the headers an upload stores, read back with a plain
anonymous HTTP GET of a public object (not through the SDK), on single PUTs and multipart uploads alike."""

from __future__ import annotations

import gzip
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import override_settings
from minio import Minio

from django_minio_backend import MinioBackend
from django_minio_backend.checks import check_minio_settings
from django_minio_backend.direct.moving import move_staged
from django_minio_backend.direct.staging import StagingArea
from django_minio_backend.headers import object_headers
from django_minio_backend.settings import MiB
from tests.collecting import collect_setup
from tests.counting import CountingPoolManager
from tests.helpers import BASE, MEDIA, MULTIPART, PART, put_bytes, stored_names

MANIFEST = "django_minio_backend.models.MinioManifestStaticStorage"
IMMUTABLE = "public, max-age=31536000, immutable"
PARAMETERS: dict[str, Any] = {
    "CacheControl": "public, max-age=600",
    "ContentDisposition": 'attachment; filename="report.txt"',
    "ContentLanguage": "de-CH",
    "Expires": datetime(2037, 10, 21, 7, 28, tzinfo=UTC),
    "Metadata": {"Origin": "tests", "batch-id": "42"},
}
EXPECTED = {
    "Cache-Control": "public, max-age=600",
    "Content-Disposition": 'attachment; filename="report.txt"',
    "Content-Language": "de-CH",
    "Expires": "Wed, 21 Oct 2037 07:28:00 GMT",
    "x-amz-meta-origin": "tests",
    "x-amz-meta-batch-id": "42",
}


def anonymous_get(url: str) -> tuple[dict[str, str], bytes]:
    """Headers (lower-cased names) and body of a plain HTTP GET, as a browser or CDN sends it."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return {name.lower(): value for name, value in response.headers.items()}, response.read()


def shows(headers: Mapping[str, str], expected: Mapping[str, str]) -> dict[str, str | None]:
    """The expected headers as the GET returned them (None when missing)."""
    return {name: headers.get(name.lower()) for name in expected}


@pytest.fixture
def public(live_settings: dict[str, Any], fresh_bucket: str) -> Any:
    """A factory of storages on a public bucket of the test's own."""

    def build(**options: Any) -> MinioBackend:
        return MinioBackend(
            bucket_name=fresh_bucket, storage_name="default", MINIO_PUBLIC_BUCKETS=[fresh_bucket], **options
        )

    return build


def test_a_single_put_sends_the_alias_parameters(public: Any) -> None:
    storage = public(MINIO_OBJECT_PARAMETERS=PARAMETERS)
    name = storage.save("docs/report.txt", ContentFile(b"report"))
    headers, body = anonymous_get(storage.url(name))
    assert body == b"report"
    assert shows(headers, EXPECTED) == EXPECTED
    assert headers["content-type"].startswith("text/plain")


def test_a_multipart_upload_sends_the_alias_parameters(public: Any, counting_pool: CountingPoolManager) -> None:
    storage = public(MINIO_OBJECT_PARAMETERS=PARAMETERS, MINIO_HTTP_CLIENT=counting_pool, **MULTIPART)
    data = bytes(range(256)) * (6 * MiB // 256)  # two parts
    name = storage.save("big/archive.bin", ContentFile(data))
    assert any("uploads" in url for method, url in counting_pool.requests if method == "POST")
    headers, body = anonymous_get(storage.url(name))
    assert body == data
    assert shows(headers, EXPECTED) == EXPECTED
    assert headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize("size", [10, 6 * MiB], ids=["one PUT", "multipart"])
def test_a_written_file_goes_under_the_key_prefix_with_the_alias_parameters(public: Any, size: int) -> None:
    """open(name, "wb") sends what save() sends: the object headers, under the alias's MINIO_KEY_PREFIX."""
    storage = public(MINIO_OBJECT_PARAMETERS=PARAMETERS, MINIO_KEY_PREFIX="media", MINIO_MULTIPART_PART_SIZE=5 * MiB)
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    with storage.open("docs/written.txt", "wb") as handle:
        handle.write(data)
    url = storage.url("docs/written.txt")
    assert "/media/docs/written.txt" in url
    headers, body = anonymous_get(url)
    assert body == data
    assert shows(headers, EXPECTED) == EXPECTED
    assert headers["content-type"].startswith("text/plain")


def test_content_encoding_is_stored_and_the_bytes_are_served_as_stored(public: Any) -> None:
    storage = public(MINIO_OBJECT_PARAMETERS={"ContentEncoding": "gzip"})
    packed = gzip.compress(b"body { margin: 0 }")
    headers, body = anonymous_get(storage.url(storage.save("site.css", ContentFile(packed))))
    assert (headers["content-encoding"], body) == ("gzip", packed)
    assert headers["content-type"].startswith("text/css")


class PerObject(MinioBackend):
    """Per-object parameters, as a project would write them."""

    def get_object_parameters(self, name: str) -> Mapping[str, object]:
        if name.endswith(".csv"):
            return {
                "ContentDisposition": f'attachment; filename="{name.rsplit("/", 1)[-1]}"',
                "ContentType": "text/csv; charset=utf-8",
                "Metadata": {"batch-id": "7", "kind": "export"},
            }
        return {}


def test_get_object_parameters_is_merged_over_the_setting(live_settings: dict[str, Any], fresh_bucket: str) -> None:
    storage = PerObject(
        bucket_name=fresh_bucket,
        storage_name="default",
        MINIO_PUBLIC_BUCKETS=[fresh_bucket],
        MINIO_OBJECT_PARAMETERS=PARAMETERS,
    )
    headers, _ = anonymous_get(storage.url(storage.save("exports/june.csv", ContentFile(b"a,b\n"))))
    merged = {
        **EXPECTED,
        "Content-Disposition": 'attachment; filename="june.csv"',  # replaced
        "Content-Type": "text/csv; charset=utf-8",  # only server-side code may set it
        "x-amz-meta-batch-id": "7",  # replaced key by key ...
        "x-amz-meta-kind": "export",  # ... and added
    }
    assert shows(headers, merged) == merged
    headers, _ = anonymous_get(storage.url(storage.save("exports/june.txt", ContentFile(b"x"))))
    assert shows(headers, EXPECTED) == EXPECTED  # other names: the alias's parameters alone


class BadParameters(MinioBackend):
    def get_object_parameters(self, name: str) -> Mapping[str, object]:
        return {"CacheControl": "no-cache\r\nX-Injected: 1"}


def test_bad_per_object_parameters_raise_naming_the_method_and_store_nothing(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio
) -> None:
    storage = BadParameters(bucket_name=fresh_bucket, storage_name="default")
    with pytest.raises(ValueError, match=r"BadParameters\.get_object_parameters\('a\.txt'\) CacheControl must be"):
        storage.save("a.txt", ContentFile(b"a"))
    assert stored_names(admin_client, fresh_bucket) == set()


def test_the_type_a_client_declares_is_never_stored(public: Any) -> None:
    """A browser upload claiming text/html for a .png must not be served as HTML from a public bucket."""
    upload = SimpleUploadedFile("avatar.png", b"<script>alert(1)</script>", content_type="text/html")
    storage = public()
    headers, _ = anonymous_get(storage.url(storage.save("avatars/avatar.png", upload)))
    assert headers["content-type"] == "image/png"
    headers, _ = anonymous_get(storage.url(storage.save("avatars/no-extension", upload)))
    assert headers["content-type"] == "application/octet-stream"


def test_hashed_static_names_are_immutable_and_the_rest_gets_the_alias_setting(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "site.css").write_text("body { margin: 0; }\n")
    parameters = {"CacheControl": "public, max-age=60"}
    with collect_setup(
        live_settings, fresh_bucket, tmp_path, counting_pool, MANIFEST, MINIO_OBJECT_PARAMETERS=parameters
    ):
        call_command("collectstatic", interactive=False, verbosity=0)
        static = storages["staticfiles"]
        assert isinstance(static, MinioBackend)
        hashed_url, plain_url = static.url("css/site.css"), MinioBackend.url(static, "css/site.css")
        manifest_url = MinioBackend.url(static, "staticfiles.json")
    assert hashed_url != plain_url
    assert anonymous_get(hashed_url)[0]["cache-control"] == IMMUTABLE
    assert anonymous_get(plain_url)[0]["cache-control"] == "public, max-age=60"
    assert anonymous_get(manifest_url)[0]["cache-control"] == "public, max-age=60"


# -- the move of a staged direct upload ----------------------------------------------------------------------------
DESCRIBING = ("content-type", "cache-control", "content-disposition", "content-language", "content-encoding", "expires")


def describing(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers an upload stores about its object (its type, how to serve it, its metadata), as a GET shows them."""
    return {name: value for name, value in headers.items() if name in DESCRIBING or name.startswith("x-amz-meta-")}


@pytest.mark.parametrize("size", [100, 6 * MiB], ids=["CopyObject", "copy in parts"])
def test_a_moved_direct_upload_stores_the_headers_a_save_of_its_name_sends(
    live_settings: dict[str, Any], fresh_bucket: str, admin_client: Minio, size: int
) -> None:
    storage = PerObject(
        bucket_name=fresh_bucket,
        storage_name="default",
        MINIO_PUBLIC_BUCKETS=[fresh_bucket],
        MINIO_OBJECT_PARAMETERS=PARAMETERS,
        MINIO_DIRECT_UPLOAD_PREFIX="staged/",
        MINIO_KEY_PREFIX="media",
    )
    staging = StagingArea(storage)
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    for name in ("docs/report.txt", "exports/june.csv"):
        key = staging.new_key()  # what the browser sent: its own type, cache rule and metadata
        declared = {"Cache-Control": "no-store", "x-amz-meta-from": "browser"}
        put_bytes(admin_client, key, data, bucket=fresh_bucket, content_type="text/html", metadata=declared)
        moved = move_staged(staging, key, storage, name, single_copy_limit=PART, copy_part_size=PART)
        assert moved == name
        etag = admin_client.stat_object(bucket_name=fresh_bucket, object_name=f"media/{name}").etag or ""
        assert etag.endswith("-2") == (size > PART)  # the copy in parts: two server-side parts
        headers, body = anonymous_get(storage.url(moved))
        assert body == data
        saved, _ = anonymous_get(storage.url(storage.save(f"saved/{name}", ContentFile(data))))
        assert describing(headers) == describing(saved)
        assert "x-amz-meta-from" not in headers and headers["cache-control"] == "public, max-age=600"
    assert headers["content-type"] == "text/csv; charset=utf-8"  # get_object_parameters() of the final name
    assert shows(headers, {"x-amz-meta-kind": "export"}) == {"x-amz-meta-kind": "export"}
    headers, _ = anonymous_get(storage.url("docs/report.txt"))
    assert headers["content-type"].startswith("text/plain") and shows(headers, EXPECTED) == EXPECTED


# -- validation -------------------------------------------------------------------------------------------------
def test_parameters_become_headers() -> None:
    assert object_headers(PARAMETERS) == EXPECTED
    assert object_headers({"Expires": datetime(2030, 1, 1, 1, tzinfo=UTC) + timedelta(hours=1)}) == {
        "Expires": "Tue, 01 Jan 2030 02:00:00 GMT"
    }
    assert object_headers({"ContentType": "text/csv"}, per_object=True) == {"Content-Type": "text/csv"}


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"CacheControll": "no-cache"}, "unknown key 'CacheControll'"),
        ({"ContentType": "text/html"}, "may not set ContentType"),
        ({"CacheControl": "no-cache\r\nSet-Cookie: a=b"}, "without CR, LF"),
        ({"CacheControl": "no-cache\n"}, "without CR, LF"),
        ({"ContentDisposition": 'attachment; filename="r\u00e9sum\u00e9.pdf"'}, "printable US-ASCII"),
        ({"CacheControl": ""}, "non-empty string"),
        ({"ContentLanguage": 1}, "non-empty string"),
        ({"Expires": datetime(2037, 1, 1)}, "aware datetime"),
        ({"Metadata": {"bad key": "x"}}, "is not an HTTP header name"),
        ({"Metadata": {"k\r\n": "x"}}, "is not an HTTP header name"),
        ({"Metadata": {"k": "line\nbreak"}}, "printable US-ASCII"),
        ({"Metadata": {"k": 1}}, "printable US-ASCII"),
        ({"Metadata": {"Key": "a", "key": "b"}}, "twice"),
        ({"Metadata": {"k": "x" * 2100}}, "at most 2048"),
        ({"Metadata": ["k", "v"]}, "must be a dict"),
    ],
)
def test_bad_parameters_are_refused_saying_why(parameters: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        object_headers(parameters)


@pytest.mark.parametrize("value", [{"CacheControll": "no-cache"}, {"CacheControl": "a\nb"}, "no-cache"])
def test_bad_object_parameters_are_e021(value: object) -> None:
    options = {**BASE, "MINIO_OBJECT_PARAMETERS": value}
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": options}}):
        (message,) = check_minio_settings()
    assert message.id == "django_minio_backend.E019"
    assert "MINIO_OBJECT_PARAMETERS" in message.msg
