"""Session fixtures: a real S3 server (SeaweedFS, or MinIO via MINIO_TEST_ENDPOINT) and a real redis-server.

A service that cannot start is an error, never a skip: CI must not pass on tests that did not run.
"""

from __future__ import annotations

import copy
import socket
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
from django.conf import settings
from django.test.utils import override_settings
from minio import Minio

from django_minio_backend import MinioBackend, MinioBackendStatic
from django_minio_backend.policies import public_read_policy, set_policy
from tests import settings as test_settings
from tests.counting import CountingPoolManager
from tests.helpers import drop_bucket, private_storage
from tests.servers import RedisServer, S3Server, minio_from_env, start_redis, start_seaweedfs


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = minio_from_env() or start_seaweedfs()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def admin_client(s3_server: S3Server) -> Minio:
    """An SDK client independent of the code under test, for arranging and checking state."""
    return Minio(
        endpoint=s3_server.endpoint, access_key=s3_server.access_key, secret_key=s3_server.secret_key, secure=False
    )


def live_storages(server: S3Server) -> dict[str, Any]:
    """The test STORAGES with the live server's endpoint and credentials."""
    storages: dict[str, Any] = copy.deepcopy(test_settings.STORAGES)
    for config in storages.values():
        config["OPTIONS"].update(
            MINIO_ENDPOINT=server.endpoint, MINIO_ACCESS_KEY=server.access_key, MINIO_SECRET_KEY=server.secret_key
        )
    return storages


@pytest.fixture(scope="session")
def live_settings(s3_server: S3Server, admin_client: Minio) -> Iterator[dict[str, Any]]:
    """Point STORAGES at the live server for the whole session and create the test buckets."""
    for bucket in (test_settings.PRIVATE_BUCKET, test_settings.PUBLIC_BUCKET, test_settings.STATIC_BUCKET):
        if not admin_client.bucket_exists(bucket_name=bucket):
            admin_client.make_bucket(bucket_name=bucket)
    for bucket in (test_settings.PUBLIC_BUCKET, test_settings.STATIC_BUCKET):
        set_policy(admin_client, bucket, public_read_policy(bucket))
    storages = live_storages(s3_server)
    with override_settings(STORAGES=storages):
        yield storages


@pytest.fixture
def unique() -> str:
    """A fresh name prefix so tests sharing the session buckets never see each other's objects."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def media(live_settings: dict[str, Any]) -> MinioBackend:
    return private_storage()


@pytest.fixture
def public_media(live_settings: dict[str, Any]) -> MinioBackend:
    return MinioBackend(bucket_name=test_settings.PUBLIC_BUCKET, storage_name="default")


@pytest.fixture
def static_storage(live_settings: dict[str, Any]) -> MinioBackendStatic:
    return MinioBackendStatic()


@pytest.fixture
def options(live_settings: dict[str, Any]) -> dict[str, Any]:
    """A copy of the live default alias's OPTIONS for building storages with overrides."""
    found = cast(dict[str, Any], settings.STORAGES["default"]["OPTIONS"])
    return dict(found)


@pytest.fixture
def fresh_bucket(admin_client: Minio) -> Iterator[str]:
    """A new public bucket of its own, so request counts and listings see only this test's objects."""
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    admin_client.make_bucket(bucket_name=bucket)
    set_policy(admin_client, bucket, public_read_policy(bucket))
    try:
        yield bucket
    finally:
        drop_bucket(admin_client, bucket)


@pytest.fixture
def counting_pool() -> CountingPoolManager:
    """A fresh request-counting pool: pass it as MINIO_HTTP_CLIENT to count one test's S3 round trips."""
    return CountingPoolManager()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A socket that accepts connections (in the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"127.0.0.1:{listener.getsockname()[1]}"
