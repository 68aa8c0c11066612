"""The django-health-check backend through django-health-check's own view, with the server up, down and silent."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import timedelta
from typing import Any

import django
import pytest
from django.test import Client, override_settings

if django.VERSION < (5, 2):  # the Django 4.2 leg of `make test` has no django-health-check to test against
    pytest.skip("the health extra needs django-health-check 4, which needs Django 5.2+", allow_module_level=True)

from django_minio_backend.contrib.health_check import MinioHealthCheck, minio_health_checks
from tests.servers import free_ports

pytestmark = pytest.mark.urls("tests.health_urls")
ALIASES = ("default", "staticfiles", "archive")


def health_page() -> tuple[int, dict[str, str]]:
    """Status and the JSON report of the health view: `repr(check)` -> "OK" or the error."""
    response = Client().get("/health/", {"format": "json"})
    return response.status_code, json.loads(response.content)


def key(alias: str) -> str:
    return f"MinioHealthCheck(alias={alias!r})"


def test_one_check_per_minio_alias(live_settings: dict[str, Any]) -> None:
    assert minio_health_checks() == [(MinioHealthCheck, {"alias": alias}) for alias in ALIASES]


def test_server_up_every_alias_is_ok(live_settings: dict[str, Any]) -> None:
    assert health_page() == (200, {key(alias): "OK" for alias in ALIASES})


def test_server_down_the_alias_is_unavailable_with_the_probes_reason(live_settings: dict[str, Any]) -> None:
    storages = copy.deepcopy(live_settings)
    (port,) = free_ports(1)
    storages["archive"]["OPTIONS"]["MINIO_ENDPOINT"] = f"127.0.0.1:{port}"
    with override_settings(STORAGES=storages):
        status, report = health_page()
    assert status == 500
    assert report[key("default")] == "OK" and report[key("staticfiles")] == "OK"
    assert report[key("archive")].startswith(f"Unavailable: GET http://127.0.0.1:{port}/minio/health/live failed")


def test_a_silent_server_is_reported_by_the_probe_within_its_timeout(
    live_settings: dict[str, Any], silent_server: str
) -> None:
    storages = copy.deepcopy(live_settings)
    storages["archive"]["OPTIONS"].update(MINIO_ENDPOINT=silent_server, MINIO_HEALTH_CHECK_TIMEOUT=1.0)
    with override_settings(STORAGES=storages):
        assert MinioHealthCheck(alias="archive").timeout == timedelta(seconds=1)
        started = time.monotonic()
        status, report = health_page()
        elapsed = time.monotonic() - started
    assert status == 500
    reason = report[key("archive")]  # the probe's own account, not the view's generic "Timed out after"
    assert reason.startswith("Unavailable: ") and silent_server in reason and "Timed out after" not in reason
    assert "timed out" in reason or "gave no answer within 1s" in reason
    assert elapsed < 1.0 + 0.25 + 1.0  # the probe's bound and its grace, well before the view's own second


def test_the_view_waits_no_longer_than_the_deadline_when_it_is_shorter(live_settings: dict[str, Any]) -> None:
    storages = copy.deepcopy(live_settings)
    storages["archive"]["OPTIONS"].update(MINIO_HEALTH_CHECK_TIMEOUT=10.0, MINIO_REQUEST_DEADLINE=2.0)
    with override_settings(STORAGES=storages):
        assert MinioHealthCheck(alias="archive").timeout == timedelta(seconds=2)


def test_an_alias_that_is_not_a_minio_storage_is_unavailable(live_settings: dict[str, Any]) -> None:
    storages = {**live_settings, "files": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    with override_settings(STORAGES=storages):
        result = asyncio.run(MinioHealthCheck(alias="files").get_result())
        missing = asyncio.run(MinioHealthCheck(alias="nowhere").get_result())
    assert str(result.error) == "Unavailable: STORAGES['files'] is not a MinIO storage"
    assert str(missing.error) == "Unavailable: STORAGES['nowhere'] is not a MinIO storage"
