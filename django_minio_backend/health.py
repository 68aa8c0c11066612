"""Is the server up? A bounded-time probe with a human-readable answer."""

from __future__ import annotations

import urllib3
from minio import Minio

from .settings import MinioSettings


class MinioServerStatus:
    """Truthy when the server answered; `details` says what was tried and what failed."""

    def __init__(self, available: bool, details: str) -> None:
        self.is_available = available
        self.details = details

    def __bool__(self) -> bool:
        return self.is_available

    def __repr__(self) -> str:
        state = "available" if self.is_available else "unavailable"
        return f"<MinioServerStatus {state}: {self.details}>"


def _probe_pool(settings: MinioSettings) -> urllib3.PoolManager:
    timeout = settings.health_check_timeout
    return urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout), retries=False)


def check_server(settings: MinioSettings) -> MinioServerStatus:
    """MinIO's liveness endpoint first; for other S3 servers a cheap signed request (ListBuckets)."""
    scheme = "https" if settings.use_https else "http"
    pool = _probe_pool(settings)
    tried: list[str] = []
    url = f"{scheme}://{settings.endpoint}/minio/health/live"
    try:
        response = pool.request("GET", url, preload_content=True)
        if response.status == 200:
            return MinioServerStatus(True, f"{url} answered 200")
        tried.append(f"{url} answered {response.status}")
    except urllib3.exceptions.HTTPError as exc:
        return MinioServerStatus(False, f"{url} unreachable: {exc}")
    try:
        client = Minio(
            endpoint=settings.endpoint,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            secure=settings.use_https,
            region=settings.region,
            http_client=pool,
        )
        client.list_buckets()
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none raised
        tried.append(f"signed ListBuckets failed: {exc}")
        return MinioServerStatus(False, "; ".join(tried))
    tried.append("signed ListBuckets succeeded")
    return MinioServerStatus(True, "; ".join(tried))
