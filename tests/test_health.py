"""is_minio_available() against the live server, a closed port and a server that never answers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_minio_backend import MinioBackend
from django_minio_backend.alias_settings import parse_options
from django_minio_backend.health import check_server
from tests.servers import S3Server, free_ports


def settings_for(options: dict[str, Any], **overrides: Any) -> Any:
    return parse_options("default", {**options, **overrides})


def test_live_server_is_available(media: MinioBackend, s3_server: S3Server) -> None:
    status = media.is_minio_available()
    assert status and status.is_available
    assert f"http://{s3_server.endpoint}/minio/health/live" in status.details
    if s3_server.is_seaweed:  # not MinIO: the health page is refused, so a signed request decides
        assert "answered 403" in status.details
        assert "signed HEAD of bucket 'test-media-private' answered: the bucket exists" in status.details


def test_a_missing_bucket_still_means_the_server_is_up(options: dict[str, Any], unique: str) -> None:
    status = check_server(settings_for(options), bucket=f"{unique}-absent")
    assert status, status.details
    if "signed HEAD" in status.details:
        assert "no such bucket" in status.details


def test_wrong_credentials_make_the_server_unavailable(options: dict[str, Any], s3_server: S3Server) -> None:
    if not s3_server.is_seaweed:
        pytest.skip("MinIO's health page answers without credentials")
    status = check_server(settings_for(options, MINIO_SECRET_KEY="wrong-secret-key"))
    assert not status
    assert "signed HEAD of bucket 'test-media-private' refused" in status.details


def test_closed_port_is_unavailable_at_once(options: dict[str, Any]) -> None:
    (port,) = free_ports(1)
    status = check_server(settings_for(options, MINIO_ENDPOINT=f"127.0.0.1:{port}", MINIO_HEALTH_CHECK_TIMEOUT=2.0))
    assert not status
    assert status.details.startswith(f"GET http://127.0.0.1:{port}/minio/health/live failed")
    assert repr(status).startswith("<MinioServerStatus unavailable: ")


def test_a_server_that_never_answers_is_given_up_on_within_the_timeout(
    options: dict[str, Any], silent_server: str
) -> None:
    timeout = 0.5
    started = time.monotonic()
    status = check_server(settings_for(options, MINIO_ENDPOINT=silent_server, MINIO_HEALTH_CHECK_TIMEOUT=timeout))
    elapsed = time.monotonic() - started
    assert not status
    assert "timed out" in status.details or "no answer within 0.5s" in status.details
    assert elapsed < 10 * timeout  # bounded, not the minutes an unconfigured client would wait
