"""Is the server up? A probe bounded by MINIO_HEALTH_CHECK_TIMEOUT, with a readable account of what was tried.

MinIO answers `GET /minio/health/live` without credentials. Other S3 servers do not have that page, so
when it does not answer 200 a signed HEAD of a bucket follows: any answer from the server other than
"access denied" means it is up and accepts our credentials. The probe runs in a daemon thread that the
caller waits for at most the timeout, so not even a hanging DNS lookup can hold the caller longer.
"""

from __future__ import annotations

import threading
import time

import urllib3
from minio.error import S3Error

from .connection import new_client
from .pool import new_pool
from .settings import MinioSettings

_GRACE = 0.25  # lets the probe's own timeout message win over the generic one


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


def probe_timeout(settings: MinioSettings) -> float:
    """Seconds the probe may take: MINIO_HEALTH_CHECK_TIMEOUT, never more than MINIO_REQUEST_DEADLINE."""
    return min(settings.health_check_timeout, settings.request_deadline)


def check_server(settings: MinioSettings, bucket: str | None = None) -> MinioServerStatus:
    """Probe the server of `settings`; the signed fallback asks for `bucket` (default: the default bucket)."""
    timeout = probe_timeout(settings)
    deadline = time.monotonic() + timeout
    found: list[MinioServerStatus] = []
    worker = threading.Thread(
        target=lambda: found.append(_probe(settings, bucket or settings.default_bucket, deadline)),
        name="minio-health-check",
        daemon=True,
    )
    try:
        worker.start()
        worker.join(timeout + _GRACE)
    except Exception as exc:  # noqa: BLE001 - e.g. a wait too long for the platform's timers: still an answer
        return MinioServerStatus(False, f"health check could not run: {exc!r}")
    if found:
        return found[0]
    return MinioServerStatus(False, f"{_base(settings)} gave no answer within {timeout:g}s")


def _base(settings: MinioSettings) -> str:
    return f"{'https' if settings.use_https else 'http'}://{settings.endpoint}"


def _probe_pool(settings: MinioSettings, deadline: float) -> urllib3.PoolManager:
    """A fresh pool of its own, without retries, whose requests end by `deadline`."""
    remaining = urllib3.Timeout(total=max(deadline - time.monotonic(), 0.001))
    return new_pool(settings, timeout=remaining, retries=False)


def _probe(settings: MinioSettings, bucket: str, deadline: float) -> MinioServerStatus:
    try:
        return _probe_health_page(settings, bucket, deadline)
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure, it never raises
        return MinioServerStatus(False, f"health check failed: {exc!r}")


def _probe_health_page(settings: MinioSettings, bucket: str, deadline: float) -> MinioServerStatus:
    url = f"{_base(settings)}/minio/health/live"
    pool = _probe_pool(settings, deadline)
    try:
        response = pool.request("GET", url)
    except urllib3.exceptions.HTTPError as exc:
        return MinioServerStatus(False, f"GET {url} failed: {exc}")
    finally:
        pool.clear()
    if response.status == 200:
        return MinioServerStatus(True, f"GET {url} answered 200 (MinIO is live)")
    tried = f"GET {url} answered {response.status} (not MinIO, or not live)"
    return _probe_signed(settings, bucket, deadline, tried)


def _probe_signed(settings: MinioSettings, bucket: str, deadline: float, tried: str) -> MinioServerStatus:
    """A signed HEAD of one bucket: cheap, and it also proves the credentials work."""
    pool = _probe_pool(settings, deadline)
    client = new_client(settings, pool)
    what = f"signed HEAD of bucket {bucket!r}"
    try:
        exists = client.bucket_exists(bucket_name=bucket)
    except S3Error as exc:
        return MinioServerStatus(False, f"{tried}; {what} refused: {exc.code}")
    except Exception as exc:  # noqa: BLE001 - network failures of the fallback are reported too
        return MinioServerStatus(False, f"{tried}; {what} failed: {exc}")
    finally:
        pool.clear()
    answer = "the bucket exists" if exists else "no such bucket (the server answered, so it is up)"
    return MinioServerStatus(True, f"{tried}; {what} answered: {answer}")
