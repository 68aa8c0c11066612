"""MINIO_PUBLIC_URL_BASE: public URLs of the alias's own bucket are the base plus the quoted key, fetched here
through a reverse proxy that maps a path to the bucket root as a CDN would; private URLs stay presigned."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import override_settings

from django_minio_backend import MinioBackend, MinioBackendStatic
from django_minio_backend.checks import check_minio_settings
from tests.helpers import BASE, MEDIA, STATIC, fetch
from tests.settings import PRIVATE_BUCKET, PUBLIC_BUCKET

PATH = "/assets/"


@pytest.fixture
def proxy(live_settings: dict[str, Any], fresh_bucket: str) -> Iterator[str]:
    """http://127.0.0.1:PORT/assets/ serving the fresh bucket's root, passing the path on byte for byte."""
    upstream = f"http://{live_settings['default']['OPTIONS']['MINIO_ENDPOINT']}/{fresh_bucket}/"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not self.path.startswith(PATH):
                self.send_error(404)
                return
            try:
                with urllib.request.urlopen(upstream + self.path[len(PATH) :], timeout=10) as answer:
                    status, body, headers = answer.status, answer.read(), answer.headers
            except urllib.error.HTTPError as error:
                status, body, headers = error.code, error.read(), error.headers
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", headers.get("Content-Type", "application/octet-stream"))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_static_urls_are_the_base_plus_the_quoted_key_prefix_included(fresh_bucket: str, proxy: str) -> None:
    storage = MinioBackendStatic(bucket_name=fresh_bucket, MINIO_KEY_PREFIX="static", MINIO_PUBLIC_URL_BASE=proxy)
    name = storage.save("css/\u00fc +%.css", ContentFile(b"p { }"))
    url = storage.url(name)
    assert url == f"{proxy}static/css/%C3%BC%20%2B%25.css"
    assert fetch(url) == b"p { }"  # through the proxy, which maps its path to the bucket root
    assert storage.url_many([name]) == {name: url}


def test_a_public_media_bucket_of_the_alias_gets_the_base(
    live_settings: dict[str, Any], fresh_bucket: str, proxy: str
) -> None:
    options: dict[str, Any] = {"MINIO_PUBLIC_BUCKETS": [fresh_bucket], "MINIO_DEFAULT_BUCKET": fresh_bucket}
    storage = MinioBackend(storage_name="default", MINIO_PUBLIC_URL_BASE=proxy.rstrip("/"), **options)
    url = storage.url(storage.save("a b.txt", ContentFile(b"media")))
    assert url == f"{proxy}a%20b.txt"
    assert fetch(url) == b"media"
    endpoint = live_settings["default"]["OPTIONS"]["MINIO_ENDPOINT"]
    signed = storage.url("a b.txt", parameters={"response-content-disposition": "attachment"})
    assert signed.startswith(f"http://{endpoint}/{fresh_bucket}/a%20b.txt?") and "X-Amz-Signature" in signed
    assert fetch(signed) == b"media"  # a URL with parameters is signed, against the external endpoint


def test_private_urls_stay_presigned_against_the_external_endpoint(live_settings: dict[str, Any], unique: str) -> None:
    storage = MinioBackend(storage_name="default", MINIO_PUBLIC_URL_BASE="https://cdn.example.com/media/")
    assert storage.bucket == PRIVATE_BUCKET
    url = storage.url(storage.save(f"{unique}/private.txt", ContentFile(b"private")))
    endpoint = live_settings["default"]["OPTIONS"]["MINIO_ENDPOINT"]
    assert url.startswith(f"http://{endpoint}/{PRIVATE_BUCKET}/{unique}/private.txt?") and "X-Amz-Signature" in url
    assert fetch(url) == b"private"


def test_other_buckets_of_the_alias_keep_their_endpoint_urls(live_settings: dict[str, Any]) -> None:
    storage = MinioBackend(bucket_name=PUBLIC_BUCKET, storage_name="default", MINIO_PUBLIC_URL_BASE="https://cdn/x/")
    endpoint = live_settings["default"]["OPTIONS"]["MINIO_ENDPOINT"]
    assert storage.url("a.txt") == f"http://{endpoint}/{PUBLIC_BUCKET}/a.txt"  # the base maps to the default bucket


@pytest.mark.parametrize(
    "value",
    [
        "cdn.example.com/static/",
        "ftp://cdn.example.com/",
        "https:///static/",
        "https://cdn.example.com/static/?v=1",
        "https://cdn.example.com/static/#top",
        "https://user:pw@cdn.example.com/",
        "https://cdn.example.com/my static/",
        "https://cdn.example.com:99999/",
        "https://cdn.example.com/\u00fc/",
        ["https://cdn.example.com/"],
    ],
)
def test_a_bad_url_base_is_e022(value: object) -> None:
    options = {**BASE, "MINIO_PUBLIC_URL_BASE": value}
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": options}}):
        (message,) = check_minio_settings()
    assert message.id == "django_minio_backend.E020"
    assert "MINIO_PUBLIC_URL_BASE" in message.msg


def test_a_url_base_no_url_can_use_is_w020() -> None:
    options = {**BASE, "MINIO_PUBLIC_URL_BASE": "https://cdn.example.com/"}
    storages_setting = {
        "default": {"BACKEND": MEDIA, "OPTIONS": options},  # its default bucket is private
        "staticfiles": {"BACKEND": STATIC, "OPTIONS": options},  # the static bucket is always public
    }
    with override_settings(STORAGES=storages_setting):
        found = [(message.id, message.obj) for message in check_minio_settings()]
    assert found == [("django_minio_backend.W005", "STORAGES['default']")]
    public = {**options, "MINIO_PUBLIC_BUCKETS": ["media"], "MINIO_DEFAULT_BUCKET": "media"}
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": public}}):
        assert check_minio_settings() == []
