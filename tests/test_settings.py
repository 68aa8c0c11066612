"""Settings parsing: pure, no server."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import urllib3
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_minio_backend import MinioBackend, MinioBackendStatic
from django_minio_backend.alias_settings import get_settings, parse_options
from django_minio_backend.settings import DEFAULT_MEDIA_BUCKET, DEFAULT_STATIC_BUCKET
from tests.helpers import BASE


def test_the_required_keys_alone_give_the_documented_defaults() -> None:
    parsed = parse_options("default", BASE)
    assert parsed.endpoint == "minio:9000"
    assert parsed.external_endpoint == "minio:9000"
    assert parsed.use_https is False and parsed.external_use_https is False
    assert parsed.region == "us-east-1"
    assert parsed.default_bucket == DEFAULT_MEDIA_BUCKET
    assert parsed.static_files_bucket == DEFAULT_STATIC_BUCKET
    assert parsed.url_expiry == timedelta(days=7)
    assert parsed.url_cache_timeout == int(7 * 24 * 3600 * 0.8)
    assert parsed.multipart_part_size == 10 * 1024 * 1024
    assert parsed.is_public(DEFAULT_STATIC_BUCKET)
    assert not parsed.is_public(DEFAULT_MEDIA_BUCKET)


@pytest.mark.parametrize("missing", ["MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"])
def test_missing_required_key_is_named(missing: str) -> None:
    options = {key: value for key, value in BASE.items() if key != missing}
    with pytest.raises(ImproperlyConfigured) as info:
        parse_options("media", options)
    assert str(info.value).startswith(f"STORAGES['media']['OPTIONS']['{missing}'] is required")
    if missing != "MINIO_ENDPOINT":
        assert str(info.value).endswith("(or give MINIO_CREDENTIALS_PROVIDER)")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MINIO_USE_HTTPS", "yes"),
        ("MINIO_PRIVATE_BUCKETS", "one-bucket"),
        ("MINIO_URL_EXPIRY_HOURS", 24),
        ("MINIO_MULTIPART_THRESHOLD", "10MB"),
        ("MINIO_ENDPOINT", 9000),
        ("MINIO_POLICY_HOOKS", [("bucket",)]),
    ],
)
def test_wrong_type_names_alias_and_key(key: str, value: Any) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        parse_options("default", {**BASE, key: value})
    assert f"STORAGES['default']['OPTIONS']['{key}']" in str(info.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MINIO_URL_EXPIRY_HOURS", timedelta(days=8)),
        ("MINIO_URL_EXPIRY_HOURS", timedelta(0)),
        ("MINIO_MULTIPART_PART_SIZE", 1024 * 1024),
        ("MINIO_HTTP_CLIENT", object()),
        ("MINIO_ENDPOINT", "http://minio:9000"),
        ("MINIO_EXTERNAL_ENDPOINT_USE_HTTPS", True),
        ("MINIO_URL_CACHE_TIMEOUT", 0),
        ("MINIO_UPLOAD_WORKERS", 0),
        ("MINIO_STATIC_LISTING_TTL", -1.0),
        ("MINIO_STATIC_LISTING_TTL", float("nan")),
        ("MINIO_STATIC_LISTING_TTL", float("inf")),
    ],
)
def test_out_of_range_values_are_errors(key: str, value: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match=rf"\['{key}'\]"):
        parse_options("default", {**BASE, key: value})


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"\['MINIO_ENDPIONT'\] is not a known setting"):
        parse_options("default", {**BASE, "MINIO_ENDPIONT": "x"})


def test_bucket_both_public_and_private_is_an_error() -> None:
    with pytest.raises(ImproperlyConfigured, match="both list"):
        parse_options("default", {**BASE, "MINIO_PRIVATE_BUCKETS": ["a-b-c"], "MINIO_PUBLIC_BUCKETS": ["a-b-c"]})


def test_external_endpoint_has_its_own_scheme_or_inherits_use_https() -> None:
    parsed = parse_options(
        "default",
        {
            **BASE,
            "MINIO_USE_HTTPS": False,
            "MINIO_EXTERNAL_ENDPOINT": "cdn.example.com",
            "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": True,
        },
    )
    assert (parsed.external_endpoint, parsed.external_use_https) == ("cdn.example.com", True)
    inherited = parse_options("default", {**BASE, "MINIO_USE_HTTPS": True, "MINIO_EXTERNAL_ENDPOINT": "cdn"})
    assert inherited.external_use_https is True


def test_cache_timeout_defaults_to_80_percent_of_this_alias_expiry() -> None:
    parsed = parse_options("default", {**BASE, "MINIO_URL_EXPIRY_HOURS": timedelta(hours=10)})
    assert parsed.url_cache_timeout == 8 * 3600


def test_top_level_cache_settings_are_accepted_and_options_win() -> None:
    with override_settings(MINIO_URL_CACHING_ENABLED=True, MINIO_URL_CACHE_PREFIX="legacy_"):
        legacy = parse_options("default", BASE)
        explicit = parse_options("default", {**BASE, "MINIO_URL_CACHE_PREFIX": "opt_"})
    assert legacy.url_caching_enabled is True and legacy.url_cache_prefix == "legacy_"
    assert explicit.url_cache_prefix == "opt_"


def test_http_client_is_kept() -> None:
    pool = urllib3.PoolManager()
    assert parse_options("default", {**BASE, "MINIO_HTTP_CLIENT": pool}).http_client is pool


def test_storages_follow_settings_changes() -> None:
    """Like Django's own storages, ours pick up override_settings(STORAGES=...)."""
    first = {"default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": dict(BASE)}}
    second = {"default": {**first["default"], "OPTIONS": {**BASE, "MINIO_ENDPOINT": "second:9000"}}}
    storage = MinioBackend()
    with override_settings(STORAGES=first):
        assert storage.settings.endpoint == "minio:9000"
        with override_settings(STORAGES=second):
            assert storage.settings.endpoint == "second:9000"
        assert storage.settings.endpoint == "minio:9000"


def test_user_settings_are_never_mutated() -> None:
    options = {**BASE, "MINIO_PRIVATE_BUCKETS": ["p-bucket"], "MINIO_DEFAULT_BUCKET": "d-bucket"}
    snapshot = copy.deepcopy(options)
    storages = {"default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": options}}
    with override_settings(STORAGES=storages):
        for _ in range(3):
            MinioBackend()
            MinioBackend(bucket_name="other-bucket")
    assert options == snapshot


def test_settings_are_parsed_once_per_alias() -> None:
    storages = {"default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": dict(BASE)}}
    with override_settings(STORAGES=storages):
        assert MinioBackend().settings is MinioBackend(bucket_name="x-y-z").settings is get_settings("default")


def test_django_built_alias_uses_its_own_options() -> None:
    """Django passes OPTIONS as kwargs without the alias; a second alias must not fall back to 'default'."""
    other = {**BASE, "MINIO_ENDPOINT": "other:9000", "MINIO_DEFAULT_BUCKET": "other-bucket"}
    storages = {
        "default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": dict(BASE)},
        "archive": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": other},
    }
    with override_settings(STORAGES=storages):
        from django.core.files.storage import storages as handler

        archive = handler["archive"]
        assert isinstance(archive, MinioBackend)
        assert archive.alias == "archive"
        assert archive.settings.endpoint == "other:9000"
        assert archive.bucket == "other-bucket"


def test_unknown_storage_name_is_an_error() -> None:
    storages = {"default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": dict(BASE)}}
    with override_settings(STORAGES=storages), pytest.raises(ImproperlyConfigured, match="no alias 'media2'"):
        MinioBackend(storage_name="media2").settings  # noqa: B018 - settings resolve on first use


def test_keyword_overrides_apply_to_one_instance() -> None:
    storages = {"default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": dict(BASE)}}
    with override_settings(STORAGES=storages):
        custom = MinioBackend(MINIO_URL_EXPIRY_HOURS=timedelta(hours=1))
        plain = MinioBackend()
        assert custom.settings.url_expiry == timedelta(hours=1)
        assert plain.settings.url_expiry == timedelta(days=7)
        assert custom.settings.endpoint == "minio:9000"


def test_static_storage_uses_staticfiles_alias_and_bucket() -> None:
    storages = {
        "default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": dict(BASE)},
        "staticfiles": {
            "BACKEND": "django_minio_backend.models.MinioBackendStatic",
            "OPTIONS": {**BASE, "MINIO_ENDPOINT": "static:9000", "MINIO_STATIC_FILES_BUCKET": "my-static"},
        },
    }
    with override_settings(STORAGES=storages):
        static = MinioBackendStatic()
        assert static.alias == "staticfiles"
        assert static.bucket == "my-static"
        assert static.is_public


def test_deconstruct_keeps_secrets_out_of_migrations() -> None:
    storages = {"default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": dict(BASE)}}
    with override_settings(STORAGES=storages):
        storage = MinioBackend(bucket_name="photos", MINIO_SECRET_KEY="other-secret")
    path, _args, kwargs = storage.deconstruct()  # type: ignore[attr-defined]
    assert path == "django_minio_backend.models.MinioBackend"
    assert kwargs == {"bucket_name": "photos"}
    assert "other-secret" not in repr(storage.settings)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"MINIO_URL_CACHE_BACKEND": "memcache"}, "MINIO_URL_CACHE_BACKEND"),
        ({"MINIO_URL_CACHE_BACKEND": "redis"}, "MINIO_URL_CACHE_REDIS_URL"),
    ],
)
def test_url_cache_backend_is_checked_when_caching_is_on(extra: dict[str, Any], key: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=rf"\['{key}'\]"):
        parse_options("default", {**BASE, "MINIO_URL_CACHING_ENABLED": True, **extra})
    assert parse_options("default", {**BASE, **extra}).url_cache_backend == extra["MINIO_URL_CACHE_BACKEND"]
