"""Values that used to be accepted and break later are refused when the settings are parsed; the rest is
normalised so that what is signed is what browsers send."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.test import override_settings
from minio import Minio

from django_minio_backend import MinioBackend
from django_minio_backend.alias_settings import parse_options
from django_minio_backend.checks import check_minio_settings
from django_minio_backend.health import check_server
from django_minio_backend.names import clean_name
from django_minio_backend.settings import SettingError
from tests.helpers import BASE, MEDIA, http_status, private_storage, put_bytes
from tests.servers import S3Server

INF, NAN = float("inf"), float("nan")

REFUSED = [
    ("MINIO_EXTERNAL_ENDPOINT", "https://files.example.com", "E014"),
    ("MINIO_EXTERNAL_ENDPOINT", "http://files.example.com", "E014"),
    ("MINIO_EXTERNAL_ENDPOINT", "files.example.com/", "E014"),
    ("MINIO_EXTERNAL_ENDPOINT", "files.example.com/media", "E014"),
    ("MINIO_EXTERNAL_ENDPOINT", "files.example.com:99999", "E014"),
    ("MINIO_ENDPOINT", "minio:9000/", "E012"),
    ("MINIO_ENDPOINT", "minio:9000/s3", "E012"),
    ("MINIO_ENDPOINT", "minio:port", "E012"),
    ("MINIO_CONNECT_TIMEOUT", INF, "E013"),
    ("MINIO_CONNECT_TIMEOUT", NAN, "E013"),
    ("MINIO_READ_TIMEOUT", INF, "E013"),
    ("MINIO_READ_TIMEOUT", NAN, "E013"),
    ("MINIO_HEALTH_CHECK_TIMEOUT", INF, "E013"),
    ("MINIO_HEALTH_CHECK_TIMEOUT", NAN, "E013"),
    ("MINIO_HEALTH_CHECK_TIMEOUT", 1e300, "E013"),
]


@pytest.mark.parametrize(("key", "value", "check_id"), REFUSED)
def test_values_that_break_later_are_refused_at_parse(key: str, value: Any, check_id: str) -> None:
    with pytest.raises(SettingError) as info:
        parse_options("default", {**BASE, key: value})
    assert (info.value.key, info.value.problem) == (key, "value")
    assert str(info.value).startswith(f"STORAGES['default']['OPTIONS']['{key}']")
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, key: value}}}):
        assert [message.id for message in check_minio_settings()] == [f"django_minio_backend.{check_id}"]


def test_external_endpoint_with_a_scheme_says_which_setting_gives_the_scheme() -> None:
    with pytest.raises(SettingError, match="MINIO_EXTERNAL_ENDPOINT_USE_HTTPS"):
        parse_options("default", {**BASE, "MINIO_EXTERNAL_ENDPOINT": "https://files.example.com"})


@pytest.mark.parametrize("endpoint", ["minio", "minio:9000", "10.0.0.7:9000", "[::1]:9000", "files.example.com"])
def test_plain_host_and_port_are_accepted(endpoint: str) -> None:
    parsed = parse_options("default", {**BASE, "MINIO_ENDPOINT": endpoint, "MINIO_EXTERNAL_ENDPOINT": endpoint})
    assert (parsed.endpoint, parsed.external_endpoint) == (endpoint, endpoint)


def test_hosts_are_lower_cased() -> None:
    parsed = parse_options(
        "default", {**BASE, "MINIO_ENDPOINT": "MinIO.Internal:9000", "MINIO_EXTERNAL_ENDPOINT": "Files.Example.COM"}
    )
    assert (parsed.endpoint, parsed.external_endpoint) == ("minio.internal:9000", "files.example.com")


def test_finite_timeouts_are_kept() -> None:
    parsed = parse_options("default", {**BASE, "MINIO_CONNECT_TIMEOUT": 2, "MINIO_READ_TIMEOUT": 0.5})
    assert (parsed.connect_timeout, parsed.read_timeout) == (2, 0.5)


# -- the health check never raises ------------------------------------------------------------------
def test_is_minio_available_with_an_infinite_timeout_answers_instead_of_raising() -> None:
    storage = MinioBackend(storage_name="default", MINIO_HEALTH_CHECK_TIMEOUT=INF)
    status = storage.is_minio_available()
    assert not status
    assert "MINIO_HEALTH_CHECK_TIMEOUT" in status.details


def test_check_server_never_raises_whatever_its_settings() -> None:
    settings = msgspec.structs.replace(parse_options("default", BASE), health_check_timeout=INF)
    status = check_server(settings)  # the probe's timeout is capped by MINIO_REQUEST_DEADLINE, so it runs
    assert not status and status.details


# -- names --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a\ud800b.txt", "\udfff", "dir/\udc80/x.txt", "é\ud800"])
def test_lone_surrogate_in_a_name_is_suspicious(name: str) -> None:
    with pytest.raises(SuspiciousFileOperation, match="surrogate"):
        clean_name(name)


def test_storage_refuses_a_lone_surrogate_with_suspicious_file_operation(media: MinioBackend) -> None:
    for call in (media.url, media.exists, media.delete):
        with pytest.raises(SuspiciousFileOperation):
            call("photo-\ud800.jpg")


@pytest.mark.parametrize("name", ["plain.txt", "dir/é.txt", "日本/語.txt", "emoji-😀.png"])
def test_valid_unicode_names_still_pass(name: str) -> None:
    assert clean_name(name) == name


# -- a mixed-case external host (live server) ---------------------------------------------------------
def as_a_browser_sends_it(url: str) -> str:
    """Browsers lower-case the host of a URL (WHATWG URL parsing) before sending it in the Host header."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.lower()))


def test_mixed_case_external_host_gives_urls_the_server_accepts(
    options: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str
) -> None:
    name = f"{unique}/photo.jpg"
    put_bytes(admin_client, name, b"jpeg")
    port = s3_server.endpoint.rsplit(":", 1)[1]
    storage = private_storage(MINIO_EXTERNAL_ENDPOINT=f"LocalHost:{port}")
    url = storage.url(name)
    assert http_status(as_a_browser_sends_it(url)) == 200
    assert urlsplit(url).netloc == f"localhost:{port}"
