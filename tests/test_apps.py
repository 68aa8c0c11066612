"""Start-up: settings parsed in ready(), and MINIO_CONSISTENCY_CHECK_ON_START against the live server."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from minio import Minio

from django_minio_backend.apps import BucketInitializationError, DjangoMinioBackendConfig
from tests.counting import CountingPoolManager
from tests.helpers import drop_bucket
from tests.servers import free_ports


def app_config() -> DjangoMinioBackendConfig:
    config = apps.get_app_config("django_minio_backend")
    assert isinstance(config, DjangoMinioBackendConfig)
    return config


@pytest.fixture
def bad_storages() -> dict[str, Any]:
    options = {"MINIO_ENDPOINT": "m:9000", "MINIO_ACCESS_KEY": "a", "MINIO_SECRET_KEY": "s"}
    return {
        "default": {
            "BACKEND": "django_minio_backend.models.MinioBackend",
            "OPTIONS": {**options, "MINIO_URL_EXPIRY_HOURS": timedelta(days=8)},
        }
    }


def test_ready_raises_on_bad_settings_naming_key_and_check_id(
    bad_storages: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["manage.py", "migrate"])
    with override_settings(STORAGES=bad_storages), pytest.raises(ImproperlyConfigured) as info:
        app_config().ready()
    assert str(info.value) == (
        "STORAGES['default']['OPTIONS']['MINIO_URL_EXPIRY_HOURS'] must be 1 second .. 7 days "
        "[django_minio_backend.E003]"
    )


@pytest.mark.parametrize("command", ["check", "is_minio_available"])
def test_diagnostic_commands_start_despite_bad_settings(
    command: str, bad_storages: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["manage.py", command])
    with override_settings(STORAGES=bad_storages):
        app_config().ready()


@pytest.fixture
def flagged(live_settings: dict[str, Any], unique: str, counting_pool: CountingPoolManager) -> dict[str, Any]:
    """The live aliases with fresh buckets and the test's counting pool; nothing flagged yet."""
    storages = copy.deepcopy({alias: live_settings[alias] for alias in ("default", "staticfiles")})
    storages["default"]["OPTIONS"].update(
        MINIO_PRIVATE_BUCKETS=[f"{unique}-a", f"{unique}-b"],
        MINIO_PUBLIC_BUCKETS=[f"{unique}-pub"],
        MINIO_DEFAULT_BUCKET=f"{unique}-a",
        MINIO_STATIC_FILES_BUCKET=f"{unique}-static",
        MINIO_HTTP_CLIENT=counting_pool,
    )
    storages["staticfiles"]["OPTIONS"].update(
        MINIO_STATIC_FILES_BUCKET=f"{unique}-static", MINIO_HTTP_CLIENT=counting_pool
    )
    return storages


@pytest.fixture
def drop_buckets(admin_client: Minio, unique: str) -> Iterator[None]:
    yield
    for bucket in admin_client.list_buckets():
        if bucket.name.startswith(unique):
            drop_bucket(admin_client, bucket.name)


def bucket_names(admin_client: Minio, unique: str) -> set[str]:
    return {bucket.name for bucket in admin_client.list_buckets() if bucket.name.startswith(unique)}


@pytest.mark.usefixtures("drop_buckets")
def test_consistency_check_on_start_initializes_each_bucket_once(
    flagged: dict[str, Any], admin_client: Minio, unique: str, counting_pool: CountingPoolManager
) -> None:
    for alias in ("default", "staticfiles"):
        flagged[alias]["OPTIONS"]["MINIO_CONSISTENCY_CHECK_ON_START"] = True
    with override_settings(STORAGES=flagged):
        app_config().ready()
    expected = {f"{unique}-a", f"{unique}-b", f"{unique}-pub", f"{unique}-static"}
    assert bucket_names(admin_client, unique) == expected
    creations = [url for method, url in counting_pool.requests if method == "PUT" and "?" not in url]
    assert sorted(url.rsplit("/", 1)[-1] for url in creations) == sorted(expected)  # each bucket created once
    policies = [url for method, url in counting_pool.requests if method == "PUT" and url.endswith("?policy=")]
    assert len(policies) == 2  # the public bucket and the static bucket, once each


@pytest.mark.usefixtures("drop_buckets")
def test_a_flagged_static_alias_creates_only_the_static_bucket(
    flagged: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    flagged["staticfiles"]["OPTIONS"]["MINIO_CONSISTENCY_CHECK_ON_START"] = True
    with override_settings(STORAGES=flagged):
        app_config().ready()
    assert bucket_names(admin_client, unique) == {f"{unique}-static"}


def test_nothing_flagged_means_no_traffic(flagged: dict[str, Any], counting_pool: CountingPoolManager) -> None:
    with override_settings(STORAGES=flagged):
        app_config().ready()
    assert counting_pool.requests == []


def test_an_unreachable_server_at_start_up_is_an_error(flagged: dict[str, Any]) -> None:
    (port,) = free_ports(1)
    options = flagged["staticfiles"]["OPTIONS"]
    options.update(MINIO_CONSISTENCY_CHECK_ON_START=True, MINIO_ENDPOINT=f"127.0.0.1:{port}", MINIO_HTTP_CLIENT=None)
    options.update(MINIO_CONNECT_TIMEOUT=1.0)
    with override_settings(STORAGES=flagged), pytest.raises(BucketInitializationError, match="FAILED"):
        app_config().ready()
