"""Secrets stay secret: never in a repr, on Django's error page or in a check message, and a rotated
secret never keeps serving URLs signed with the old one (URL cache against the live server)."""

from __future__ import annotations

import pprint
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, override_settings
from django.views.debug import technical_500_response
from minio import Minio

from django_minio_backend import MinioBackend
from django_minio_backend import connection as clients
from django_minio_backend.alias_settings import parse_options
from django_minio_backend.checks import check_minio_settings
from django_minio_backend.signing import SigningCredentials
from django_minio_backend.urlcache import cache_config
from tests.helpers import MEDIA, cache_prefix, http_status, private_storage, put_bytes
from tests.servers import ROTATING_ACCESS_KEY, RedisServer, S3Server

SECRET = "Zq7-very-secret-value-81f3"  # a string no page, repr or message may contain
REDIS_PASSWORD = "redis-pa55word-c4d2"
OPTIONS: dict[str, Any] = {
    "MINIO_ENDPOINT": "minio:9000",
    "MINIO_ACCESS_KEY": "ak",
    "MINIO_SECRET_KEY": SECRET,
    "MINIO_PRIVATE_BUCKETS": ["media"],
    "MINIO_DEFAULT_BUCKET": "media",
    "MINIO_URL_CACHE_REDIS_URL": f"redis://user:{REDIS_PASSWORD}@cache:6379/0",
}


def hidden(text: str) -> bool:
    return SECRET not in text and REDIS_PASSWORD not in text


# -- reprs ------------------------------------------------------------------------------------------
@pytest.fixture(params=["built by Django from STORAGES", "keyword overrides"])
def storage(request: pytest.FixtureRequest) -> Iterator[MinioBackend]:
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": OPTIONS}}):
        if request.param == "keyword overrides":
            built = MinioBackend(storage_name="default", MINIO_SECRET_KEY=SECRET, MINIO_URL_EXPIRY_HOURS=timedelta(1))
        else:
            built = MinioBackend(**OPTIONS)  # what Django's storage handler does with OPTIONS
        built.url("a.txt")  # settings, URL builder and signer resolved
        yield built


def test_storage_shows_no_secret(storage: MinioBackend) -> None:
    assert storage.settings.secret_key == SECRET  # the secret is in use
    assert hidden(repr(storage))
    assert hidden(repr(vars(storage)))
    assert hidden(pprint.pformat(vars(storage)))


def test_settings_repr_and_rich_repr_show_no_secret() -> None:
    settings = parse_options("default", OPTIONS)
    assert hidden(repr(settings))
    assert hidden(repr(list(settings.__rich_repr__())))
    assert ("endpoint", "minio:9000") in list(settings.__rich_repr__())


def test_signing_credentials_repr_shows_no_secret() -> None:
    credentials = SigningCredentials(access_key="ak", secret_key=SECRET, region="us-east-1")
    assert hidden(repr(credentials))
    assert "ak" in repr(credentials)


def test_client_key_holds_no_secret_but_changes_with_it() -> None:
    settings = parse_options("default", OPTIONS)
    key = clients.client_key(settings)
    assert hidden(repr(key))
    rotated = parse_options("default", {**OPTIONS, "MINIO_SECRET_KEY": SECRET + "-rotated"})
    assert clients.client_key(rotated) != key  # a rotated secret gets its own client


# -- Django's error page ----------------------------------------------------------------------------
def from_storages(**bad: Any) -> MinioBackend:
    """A storage as Django builds it from a STORAGES alias holding `bad` (settings resolved on first use)."""
    return MinioBackend(**{**OPTIONS, **bad})


FAILURES: dict[str, tuple[dict[str, Any], Callable[[], MinioBackend], str]] = {
    "value in STORAGES": (
        {"MINIO_URL_EXPIRY_HOURS": timedelta(days=30)},
        lambda: from_storages(MINIO_URL_EXPIRY_HOURS=timedelta(days=30)),
        "MINIO_URL_EXPIRY_HOURS",
    ),
    "type in STORAGES": (
        {"MINIO_USE_HTTPS": "yes"},
        lambda: from_storages(MINIO_USE_HTTPS="yes"),
        "MINIO_USE_HTTPS",
    ),
    "key without the MINIO_ prefix": (
        {"SECRET_KEY": SECRET},
        lambda: from_storages(SECRET_KEY=SECRET),
        "keys start with MINIO_",
    ),
    "keyword override": (
        {},
        lambda: MinioBackend(storage_name="default", MINIO_SECRET_KEY=SECRET, MINIO_URL_EXPIRY_HOURS=timedelta(0)),
        "MINIO_URL_EXPIRY_HOURS",
    ),
}


def error_page(storage: MinioBackend) -> str:
    """Django's technical 500 page for the error that resolving the storage's settings raises."""
    request = RequestFactory().get("/")
    try:
        storage.settings  # noqa: B018 - resolving the settings is what fails
    except ImproperlyConfigured:
        return technical_500_response(request, *sys.exc_info()).content.decode()
    raise AssertionError("the settings were expected to fail")


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_debug_error_page_shows_no_secret(failure: str, debug: bool) -> None:
    bad, build, key = FAILURES[failure]
    with override_settings(DEBUG=debug, STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": {**OPTIONS, **bad}}}):
        page = error_page(build())
    assert key in page and "parse_options" in page  # the page does show the failing frames
    assert SECRET not in page


# -- system checks ----------------------------------------------------------------------------------
def test_e006_does_not_print_the_redis_password() -> None:
    options = {
        **OPTIONS,
        "MINIO_URL_CACHING_ENABLED": True,
        "MINIO_URL_CACHE_BACKEND": "redis",
        "MINIO_URL_CACHE_REDIS_URL": f"http://user:{REDIS_PASSWORD}@cache:6379/0",
    }
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": options}}):
        (message,) = check_minio_settings()
    assert message.id == "django_minio_backend.E006"
    assert "cache:6379" in message.msg
    assert hidden(message.msg)


# -- a rotated secret and the URL cache (live server) -----------------------------------------------
@pytest.mark.parametrize("backend", ["lru", "redis"])
def test_rotated_secret_gets_fresh_urls_the_server_accepts(
    backend: str,
    live_settings: dict[str, Any],
    s3_server: S3Server,
    redis_server: RedisServer,
    admin_client: Minio,
    unique: str,
) -> None:
    if not s3_server.is_seaweed:
        pytest.skip("rotating a secret needs SeaweedFS's reloadable s3.json")
    old, new = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    s3_server.set_secret(ROTATING_ACCESS_KEY, old)
    name = f"{unique}/report.txt"
    put_bytes(admin_client, name, b"x")
    prefix = cache_prefix()

    def storage(secret: str) -> MinioBackend:
        return private_storage(
            MINIO_ACCESS_KEY=ROTATING_ACCESS_KEY,
            MINIO_SECRET_KEY=secret,
            MINIO_URL_CACHING_ENABLED=True,
            MINIO_URL_CACHE_BACKEND=backend,
            MINIO_URL_CACHE_PREFIX=prefix,
            MINIO_URL_CACHE_REDIS_URL=redis_server.url,
        )

    before = storage(old).url(name)
    assert http_status(before) == 200
    assert storage(old).url(name) == before  # cached

    s3_server.set_secret(ROTATING_ACCESS_KEY, new)  # the deployment rotates the secret, same access key
    assert http_status(before) == 403  # the server no longer accepts the old secret's signatures
    after = storage(new).url(name)
    assert http_status(after) == 200
    assert after != before
    assert storage(new).url(name) == after  # and the new URL is cached in turn


def test_cache_config_repr_shows_no_redis_password() -> None:
    config = cache_config(parse_options("default", OPTIONS))
    assert config.redis_url is not None and REDIS_PASSWORD in config.redis_url
    assert hidden(repr(config))
