"""Process-wide MinIO clients and HTTP pools.

One `minio.Minio` per (endpoint, credentials, TLS, region, timeouts) per process: storages built
for many buckets share connections. The process id is part of the key, so a forked child
(gunicorn, celery prefork) builds its own pool instead of sharing sockets with its parent.
"""

from __future__ import annotations

import os
import threading
from typing import NamedTuple

import certifi
import urllib3
from minio import Minio

from .httppool import DeadlinePoolManager, DeadlineRetry
from .settings import MinioSettings


class _ClientKey(NamedTuple):
    pid: int
    endpoint: str
    access_key: str
    credentials_id: str  # changes with the secret, which the key never holds
    secure: bool
    region: str
    connect_timeout: float
    read_timeout: float
    custom_pool: int


_lock = threading.Lock()
_clients: dict[_ClientKey, Minio] = {}
_pools: dict[_ClientKey, urllib3.PoolManager] = {}


def _key(settings: MinioSettings) -> _ClientKey:
    return _ClientKey(
        pid=os.getpid(),
        endpoint=settings.endpoint,
        access_key=settings.access_key,
        credentials_id=settings.credentials_id,
        secure=settings.use_https,
        region=settings.region,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        custom_pool=id(settings.http_client) if settings.http_client is not None else 0,
    )


def _new_pool(settings: MinioSettings) -> urllib3.PoolManager:
    """Bounded timeouts (the SDK's default waits 5 minutes), cut further by the call's deadline, and a few
    retries for idempotent calls, whose waits are capped too; when they run out the server's own error is raised."""
    return DeadlinePoolManager(
        timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
        maxsize=max(10, settings.upload_workers * 2),
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=DeadlineRetry(
            total=2, connect=2, read=0, backoff_factor=0.2, status_forcelist=(502, 503, 504), raise_on_status=False
        ),
    )


def http_pool(settings: MinioSettings) -> urllib3.PoolManager:
    """The pool behind this alias's client (the user's MINIO_HTTP_CLIENT when given)."""
    key = _key(settings)
    pool = _pools.get(key)
    if pool is None:
        with _lock:
            pool = _pool_locked(settings, key)
    return pool


def get_client(settings: MinioSettings) -> Minio:
    """The shared SDK client for internal traffic (MINIO_ENDPOINT)."""
    key = _key(settings)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                _drop_other_processes()
                client = _clients[key] = new_client(settings, _pool_locked(settings, key))
    return client


def new_client(settings: MinioSettings, pool: urllib3.PoolManager) -> Minio:
    """An SDK client for this alias's internal endpoint over the given pool (not cached)."""
    return Minio(
        endpoint=settings.endpoint,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        secure=settings.use_https,
        region=settings.region,
        http_client=pool,
    )


def _pool_locked(settings: MinioSettings, key: _ClientKey) -> urllib3.PoolManager:
    pool = _pools.get(key)
    if pool is None:
        pool = settings.http_client or _new_pool(settings)
        _pools[key] = pool
    return pool


def _drop_other_processes() -> None:
    """Forget clients inherited through fork; their sockets belong to the parent."""
    pid = os.getpid()
    for table in (_clients, _pools):
        for stale in [key for key in table if key.pid != pid]:
            del table[stale]
