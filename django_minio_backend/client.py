"""Process-wide MinIO clients and HTTP pools.

One `minio.Minio` per (endpoint, credentials, TLS, region, timeouts) per process: storages built
for many buckets share connections. Both live in per-process registries, so a forked child
(gunicorn, celery prefork) builds its own pool instead of sharing sockets with its parent; callers
look them up at each use and never keep one.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import certifi
import urllib3
from minio import Minio

from .httppool import DeadlinePoolManager, DeadlineRetry
from .per_process import PerProcess
from .settings import MinioSettings


class _ClientKey(NamedTuple):
    endpoint: str
    access_key: str
    credentials_id: str  # changes with the secret, which the key never holds
    secure: bool
    region: str
    connect_timeout: float
    read_timeout: float
    custom_pool: int


_clients: PerProcess[_ClientKey, Minio] = PerProcess()
_pools: PerProcess[_ClientKey, urllib3.PoolManager] = PerProcess()


def client_key(settings: MinioSettings) -> _ClientKey:
    """What tells two aliases' clients apart; computed once by callers that look a pool up per request."""
    return _ClientKey(
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


def _pool_for(settings: MinioSettings) -> urllib3.PoolManager:
    return settings.http_client or _new_pool(settings)


def http_pool(settings: MinioSettings, key: _ClientKey | None = None) -> urllib3.PoolManager:
    """This process's pool behind the alias's client (the user's MINIO_HTTP_CLIENT when given); `key` is
    `client_key(settings)`, passed by callers that look the pool up per request."""
    return _pools.get(client_key(settings) if key is None else key, _pool_for, settings)


def get_client(settings: MinioSettings) -> Minio:
    """This process's shared SDK client for internal traffic (MINIO_ENDPOINT)."""
    key = client_key(settings)
    return _clients.get(key, _shared_client, settings, key)


def _shared_client(settings: MinioSettings, key: _ClientKey) -> Minio:
    return new_client(settings, http_pool(settings, key))


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
