"""Static source trees and counted collectstatic set-ups, for the tests and the benchmark."""

from __future__ import annotations

import copy
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.test.utils import override_settings

from django_minio_backend import MinioBackendStatic
from django_minio_backend.listing import forget_listings
from tests.counting import CountingPoolManager

FS_FINDER = "django.contrib.staticfiles.finders.FileSystemFinder"

PER_DIRECTORY = 100


def css_name(index: int) -> str:
    return f"css/part{index // PER_DIRECTORY:03d}/file{index:05d}.css"


def write_css_files(root: Path, count: int, age_seconds: float = 3600.0) -> list[str]:
    """`count` small, distinct CSS files under `root`, dated `age_seconds` ago; returns their relative names."""
    stamp = time.time() - age_seconds
    names = []
    for index in range(count):
        name = css_name(index)
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f".rule-{index} {{ color: #{index % 0xFFFFFF:06x}; margin: {index % 17}px; }}\n")
        os.utime(path, (stamp, stamp))
        names.append(name)
    return names


def touch(path: Path, ahead_seconds: float = 5.0) -> None:
    """Date a file in the future, so it is newer than anything stored."""
    stamp = time.time() + ahead_seconds
    os.utime(path, (stamp, stamp))


def requests_by_kind(pool: CountingPoolManager) -> Counter[str]:
    """PUT/HEAD/DELETE/..., with listings (`LIST`) told apart from object GETs."""
    return Counter("LIST" if "list-type=2" in url else method for method, url in pool.requests)


@contextmanager
def collect_setup(
    live_settings: dict[str, Any],
    bucket: str,
    sources: Path,
    pool: CountingPoolManager,
    backend: str | None = None,
    finders: list[str] | None = None,
    **options: Any,
) -> Iterator[None]:
    """STORAGES['staticfiles'] on `bucket` through the counting pool, with `sources` as the only static files.

    Each entry behaves like a new process: no listing and no storage instance survive from before.
    """
    configured = copy.deepcopy(live_settings)
    static = configured["staticfiles"]
    static["OPTIONS"].update(MINIO_STATIC_FILES_BUCKET=bucket, MINIO_HTTP_CLIENT=pool, **options)
    if backend is not None:
        static["BACKEND"] = backend
    with override_settings(
        STORAGES=configured, STATICFILES_DIRS=[str(sources)], STATICFILES_FINDERS=finders or [FS_FINDER]
    ):
        forget_listings()
        pool.reset()
        yield


def counted_static(bucket: str, pool: CountingPoolManager, ttl: float = 60.0) -> MinioBackendStatic:
    """A static storage on `bucket` whose requests `pool` counts."""
    return MinioBackendStatic(bucket_name=bucket, MINIO_HTTP_CLIENT=pool, MINIO_STATIC_LISTING_TTL=ttl)
