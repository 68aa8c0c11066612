"""Which STORAGES alias a storage belongs to: pure, no server.

Django builds a storage with `BACKEND(**OPTIONS)` and never says which alias it is building, so the storage
finds its alias by its keyword arguments. OPTIONS may hold the constructor's own parameters (`bucket_name`,
as django-storages users write it, `replace_existing`, `storage_name`): they take effect, and the storage
still belongs to its own alias, never silently to `default`.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import django
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage, storages
from django.test import override_settings

from django_minio_backend import MinioBackend, MinioBackendStatic
from django_minio_backend.checks import check_minio_settings

MEDIA = "django_minio_backend.models.MinioBackend"
STATIC = "django_minio_backend.models.MinioBackendStatic"
SERVER: dict[str, Any] = {"MINIO_ENDPOINT": "minio:9000", "MINIO_ACCESS_KEY": "ak", "MINIO_SECRET_KEY": "sk"}
DEFAULT: dict[str, Any] = {
    **SERVER,
    "MINIO_PUBLIC_BUCKETS": ["default-public"],
    "MINIO_DEFAULT_BUCKET": "default-public",
    "MINIO_URL_EXPIRY_HOURS": timedelta(hours=2),
}
ARCHIVE: dict[str, Any] = {
    "MINIO_ENDPOINT": "archive:9000",
    "MINIO_ACCESS_KEY": "archive-ak",
    "MINIO_SECRET_KEY": "archive-sk",
    "MINIO_PRIVATE_BUCKETS": ["archive-private"],
    "MINIO_DEFAULT_BUCKET": "archive-private",
}


def storages_with(**aliases: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """STORAGES with a `default` media alias plus these (BACKEND, OPTIONS) aliases."""
    found: dict[str, Any] = {"default": {"BACKEND": MEDIA, "OPTIONS": DEFAULT}}
    found.update({alias: {"BACKEND": backend, "OPTIONS": options} for alias, (backend, options) in aliases.items()})
    return found


def test_options_holding_constructor_keys_resolve_to_their_own_alias() -> None:
    """The bug: Django passes `bucket_name` as a named argument, the remaining kwargs no longer equal the alias's
    OPTIONS, and the storage took the default alias's settings (its endpoint, its public buckets)."""
    options = {**ARCHIVE, "bucket_name": "archive-photos", "replace_existing": True}
    with override_settings(STORAGES=storages_with(archive=(MEDIA, options))):
        archive = storages["archive"]
        assert isinstance(archive, MinioBackend)
        assert archive.alias == "archive"
        assert archive.settings.endpoint == "archive:9000"
        assert archive.settings.public_buckets == ()  # none of default's
        assert archive.bucket == "archive-photos"  # bucket_name from OPTIONS is the bucket
        assert archive.replace_existing is True
        assert not archive.is_public
        assert check_minio_settings() == []  # the constructor's keys are not unknown MINIO_ settings


@pytest.mark.skipif(
    django.VERSION < (5, 0),
    reason="Django 4.2's override_settings(STORAGES=...) sets DEFAULT_FILE_STORAGE, and its storage handler then "
    "builds the 'default' alias from BACKEND alone, without OPTIONS (a test-only quirk of its deprecation shim)",
)
def test_default_storage_takes_bucket_name_from_its_options() -> None:
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": {**DEFAULT, "bucket_name": "photos"}}}):
        assert isinstance(default_storage, MinioBackend)
        assert default_storage.alias == "default"
        assert default_storage.bucket == "photos"
        assert default_storage.settings.url_expiry == timedelta(hours=2)


def test_static_options_holding_bucket_name_resolve_to_their_own_alias() -> None:
    options = {**SERVER, "MINIO_ENDPOINT": "static:9000", "bucket_name": "site-static"}
    with override_settings(STORAGES=storages_with(staticfiles=(STATIC, SERVER), assets=(STATIC, options))):
        static = storages["assets"]
        assert isinstance(static, MinioBackendStatic)
        assert (static.alias, static.settings.endpoint, static.bucket) == ("assets", "static:9000", "site-static")
        assert static.is_public  # a static bucket is public whatever its name
        assert static.replace_existing is True  # collectstatic replaces files in place


def test_a_second_static_alias_keeps_its_replace_existing_and_bucket() -> None:
    assets = {**SERVER, "MINIO_STATIC_FILES_BUCKET": "assets", "replace_existing": False}
    with override_settings(STORAGES=storages_with(staticfiles=(STATIC, SERVER), assets=(STATIC, assets))):
        built = storages["assets"]
        assert isinstance(built, MinioBackendStatic)
        assert (built.alias, built.bucket, built.replace_existing) == ("assets", "assets", False)


def test_storage_name_in_options_names_the_alias_whose_settings_it_uses() -> None:
    """`{"storage_name": "default", "bucket_name": ...}`: another bucket with the default alias's settings."""
    photos = {"storage_name": "default", "bucket_name": "photos", "MINIO_URL_EXPIRY_HOURS": timedelta(hours=1)}
    with override_settings(STORAGES=storages_with(photos=(MEDIA, photos))):
        built = storages["photos"]
        assert isinstance(built, MinioBackend)
        assert built.alias == "photos"
        assert (built.settings.endpoint, built.bucket) == ("minio:9000", "photos")
        assert built.settings.url_expiry == timedelta(hours=1)  # its own key wins over default's
        assert built.settings.public_buckets == ("default-public",)  # the rest is default's, as it asked
        assert check_minio_settings() == []


def test_storage_name_in_options_does_not_chain() -> None:
    chained = storages_with(first=(MEDIA, {"storage_name": "second"}), second=(MEDIA, {"storage_name": "default"}))
    with override_settings(STORAGES=chained):
        built = storages["first"]
        assert isinstance(built, MinioBackend)
        with pytest.raises(ImproperlyConfigured, match=r"STORAGES\['first'\]\['OPTIONS'\]\['storage_name'\]"):
            built.settings  # noqa: B018 - settings resolve on first use


def test_options_matching_no_alias_are_an_error_never_the_default_alias() -> None:
    """A storage built from a whole OPTIONS dict (server and credentials) that no alias holds: a storage Django
    built before STORAGES changed, or `MinioBackend(**options)` in user code."""
    with override_settings(STORAGES=storages_with(archive=(MEDIA, ARCHIVE))):
        stray = MinioBackend(**{**ARCHIVE, "MINIO_DEFAULT_BUCKET": "elsewhere"})
        with pytest.raises(ImproperlyConfigured) as info:
            stray.settings  # noqa: B018 - settings resolve on first use
    message = str(info.value)
    assert "MinioBackend(...)" in message and "no MinIO alias" in message
    assert "MINIO_DEFAULT_BUCKET" in message and "storage_name" in message
    assert "archive-sk" not in message  # keys are named, values are not


def test_a_storage_django_built_before_storages_changed_is_not_moved_to_default() -> None:
    with override_settings(STORAGES=storages_with(archive=(MEDIA, ARCHIVE))):
        archive = storages["archive"]
        assert isinstance(archive, MinioBackend)
        assert archive.alias == "archive"
        moved = {**ARCHIVE, "MINIO_ENDPOINT": "moved:9000"}
        with (
            override_settings(STORAGES=storages_with(archive=(MEDIA, moved))),
            pytest.raises(ImproperlyConfigured, match="no MinIO alias"),
        ):
            archive.settings  # noqa: B018 - settings resolve anew after STORAGES changed
        assert archive.settings.endpoint == "archive:9000"


def test_two_aliases_with_identical_options_share_their_settings() -> None:
    """Same OPTIONS, same settings: a storage takes its class's default alias if that is one of them, else the
    first such alias in STORAGES whose BACKEND is the storage's class."""
    with override_settings(
        STORAGES=storages_with(mirror=(MEDIA, DEFAULT), assets=(STATIC, ARCHIVE), copy=(MEDIA, ARCHIVE))
    ):
        default, mirror, copy = storages["default"], storages["mirror"], storages["copy"]
        assert isinstance(default, MinioBackend) and isinstance(mirror, MinioBackend) and isinstance(copy, MinioBackend)
        assert mirror.alias == "default"
        assert mirror.settings is default.settings
        assert copy.alias == "copy"  # not "assets": that alias's BACKEND is the static class
        assert copy.settings.endpoint == "archive:9000"


def test_storages_built_in_code_name_their_alias_or_override_the_default() -> None:
    with override_settings(STORAGES=storages_with(archive=(MEDIA, ARCHIVE), staticfiles=(STATIC, SERVER))):
        named = MinioBackend(bucket_name="archive-photos", storage_name="archive")
        assert (named.alias, named.bucket, named.settings.endpoint) == ("archive", "archive-photos", "archive:9000")
        plain = MinioBackend(bucket_name="photos")
        assert (plain.alias, plain.bucket, plain.settings.endpoint) == ("default", "photos", "minio:9000")
        overridden = MinioBackend(MINIO_URL_EXPIRY_HOURS=timedelta(hours=1))
        assert overridden.alias == "default"
        assert overridden.settings.url_expiry == timedelta(hours=1)
        assert overridden.settings.public_buckets == ("default-public",)
        whole = MinioBackend(storage_name="archive", **{**ARCHIVE, "MINIO_DEFAULT_BUCKET": "elsewhere"})
        assert (whole.alias, whole.bucket) == ("archive", "elsewhere")  # storage_name says what it overrides
        static = MinioBackendStatic(bucket_name="other-static")
        assert (static.alias, static.bucket, static.is_public) == ("staticfiles", "other-static", True)


def test_the_constructor_keys_are_the_named_parameters_of_the_storages() -> None:
    from django_minio_backend.aliases import CONSTRUCTOR_KEYS

    for backend in (MinioBackend, MinioBackendStatic):
        named = [name for name, parameter in inspect.signature(backend.__init__).parameters.items()]
        assert set(named) - {"self", "options"} == CONSTRUCTOR_KEYS, backend
