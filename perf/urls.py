"""URL benchmark: µs per url() call against a loopback SeaweedFS and redis-server, all baselines in one run.

    python -m perf.urls

Measures the raw minio SDK presign, our uncached and public URLs, our cache hits on every backend (plus
url_many and a bare Redis GET for reference), django-storages' S3 backend and the previous release
(django-minio-backend 4.4.4, installed with pip --target into /tmp and timed in a child process, since its
module name is ours too). Counts the S3 requests made during all cache hits, which must be zero.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

PREVIOUS_RELEASE = "django-minio-backend==4.4.4"
PREVIOUS_TARGET = Path(tempfile.gettempdir()) / "prev-dmb"
PRIVATE, PUBLIC = "bench-private", "bench-public"
EXPIRY = 2 * 3600
NAMES = [
    f"media/2024-05-{index % 28 + 1:02d}/photo {index:03d}{' ü+%~' if index % 5 == 0 else ''}.jpg"
    for index in range(100)
]
HERE = Path(__file__).resolve().parent


def _configure(endpoint: str, access_key: str, secret_key: str, redis_url: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=[],
        USE_TZ=True,
        STORAGES={
            "default": {
                "BACKEND": "django_minio_backend.models.MinioBackend",
                "OPTIONS": {
                    "MINIO_ENDPOINT": endpoint,
                    "MINIO_ACCESS_KEY": access_key,
                    "MINIO_SECRET_KEY": secret_key,
                    "MINIO_PRIVATE_BUCKETS": [PRIVATE],
                    "MINIO_PUBLIC_BUCKETS": [PUBLIC],
                    "MINIO_DEFAULT_BUCKET": PRIVATE,
                    "MINIO_URL_EXPIRY_HOURS": timedelta(seconds=EXPIRY),
                    "MINIO_URL_CACHE_REDIS_URL": redis_url,
                },
            }
        },
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url},
        },
    )
    django.setup()


def _previous_release(endpoint: str, access_key: str, secret_key: str) -> dict[str, float] | str:
    """µs per call of the previous release, or the reason it could not be measured."""
    if not (PREVIOUS_TARGET / "django_minio_backend").is_dir():
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(PREVIOUS_TARGET)]
        install = subprocess.run([*command, PREVIOUS_RELEASE], capture_output=True, text=True)
        if install.returncode != 0:
            return f"not measured: pip install {PREVIOUS_RELEASE} failed ({install.stderr.strip()[-200:]})"
    config = {
        "endpoint": endpoint,
        "access_key": access_key,
        "secret_key": secret_key,
        "private": PRIVATE,
        "public": PUBLIC,
        "expiry": EXPIRY,
        "names": NAMES,
        "cached_names": 20,  # it sends a HEAD per call even on a hit: keep the run short
        "target": str(PREVIOUS_TARGET),
    }
    env = {**os.environ, "PYTHONPATH": str(PREVIOUS_TARGET)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    child = subprocess.run(
        [sys.executable, str(HERE / "_previous_release.py"), json.dumps(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    if child.returncode != 0:
        return f"not measured: {child.stderr.strip()[-300:]}"
    result: dict[str, float] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def _django_storages(endpoint: str, access_key: str, secret_key: str) -> Callable[[str], str] | None:
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:
        return None
    storage = S3Storage(
        bucket_name=PRIVATE,
        endpoint_url=f"http://{endpoint}",
        access_key=access_key,
        secret_key=secret_key,
        region_name="us-east-1",
        signature_version="s3v4",
        addressing_style="path",
        querystring_expire=EXPIRY,
    )
    url: Callable[[str], str] = storage.url
    return url


def _whole_page(storage: Any) -> Callable[[str], object]:
    """One url_many() call for all NAMES, timed as one 'call' (divided by len(NAMES) afterwards)."""
    return lambda _: storage.url_many(NAMES)


def _table(rows: Sequence[tuple[str, float | None, str]], reference: float) -> str:
    lines = [f"{'case':58} {'µs/call':>10} {'vs raw SDK':>11}", "-" * 81]
    for label, value, note in rows:
        if value is None:
            lines.append(f"{label:58} {'-':>10} {'':>11}  {note}")
            continue
        ratio = value / reference
        shown = f"1/{1 / ratio:.1f}" if ratio < 1 else f"{ratio:.1f}x"
        lines.append(f"{label:58} {value:10.2f} {shown:>11}  {note}".rstrip())
    return "\n".join(lines)


def main() -> None:
    sys.path.insert(0, str(HERE.parent))
    from tests.servers import start_redis, start_seaweedfs

    print("URL benchmark: starting SeaweedFS and redis-server on loopback ...", flush=True)
    s3 = start_seaweedfs()
    redis_server = start_redis()
    try:
        _run(s3.endpoint, s3.access_key, s3.secret_key, redis_server.url)
    finally:
        redis_server.stop()
        s3.stop()


def _run(endpoint: str, access_key: str, secret_key: str, redis_url: str) -> None:
    _configure(endpoint, access_key, secret_key, redis_url)
    import io

    import redis
    from minio import Minio

    from django_minio_backend import MinioBackend
    from django_minio_backend.policies import public_read_policy, set_policy
    from tests.counting import CountingPoolManager

    admin = Minio(endpoint=endpoint, access_key=access_key, secret_key=secret_key, secure=False, region="us-east-1")
    for bucket in (PRIVATE, PUBLIC):
        admin.make_bucket(bucket_name=bucket)
    set_policy(admin, PUBLIC, public_read_policy(PUBLIC))
    for name in NAMES:
        admin.put_object(bucket_name=PRIVATE, object_name=name, data=io.BytesIO(b"x"), length=1)

    counter = CountingPoolManager()

    def cached(backend: str, **extra: Any) -> MinioBackend:
        return MinioBackend(
            bucket_name=PRIVATE,
            storage_name="default",
            MINIO_URL_CACHING_ENABLED=True,
            MINIO_URL_CACHE_BACKEND=backend,
            MINIO_HTTP_CLIENT=counter,
            **extra,
        )

    from perf._timing import Case, interleaved

    storages = {
        "lru": cached("lru"),
        "redis": cached("redis"),
        "django (LocMemCache)": cached("django"),
        "django (RedisCache)": cached("django", MINIO_URL_CACHE_DJANGO_ALIAS="redis", MINIO_URL_CACHE_PREFIX="dj_"),
    }
    for storage in storages.values():
        storage.url_many(NAMES)  # fill: one HEAD per object, as they were written elsewhere
    bare = redis.Redis.from_url(redis_url, decode_responses=True)
    bare.set("bench-bare-key", storages["lru"].url(NAMES[0]))
    s3storages = _django_storages(endpoint, access_key, secret_key)

    def raw_presign(name: str) -> str:
        return admin.presigned_get_object(bucket_name=PRIVATE, object_name=name, expires=timedelta(seconds=EXPIRY))

    cases: dict[str, Case] = {
        "raw minio SDK presigned_get_object": (raw_presign, NAMES),
        "ours: private url(), uncached (signing)": (MinioBackend(bucket_name=PRIVATE).url, NAMES),
        "ours: public url()": (MinioBackend(bucket_name=PUBLIC).url, NAMES),
    }
    for label, storage in storages.items():
        cases[f"ours: private url(), cache hit, {label}"] = (storage.url, NAMES)
    for label in ("lru", "redis"):
        cases[f"ours: url_many(100 names), cache hit, {label}, per name"] = (_whole_page(storages[label]), ["page"])
    cases["bare redis-py GET round trip"] = (lambda _: bare.get("bench-bare-key"), ["k"] * 100)
    if s3storages is not None:
        cases["django-storages S3Storage.url()"] = (s3storages, NAMES)
    counter.reset()
    print(f"timing {len(cases)} cases in interleaved passes ...", flush=True)
    timed = interleaved(cases)
    s3_requests_on_hits = counter.count()
    for label in timed:
        if label.startswith("ours: url_many"):
            timed[label] /= len(NAMES)
    raw = timed["raw minio SDK presigned_get_object"]
    uncached = timed["ours: private url(), uncached (signing)"]
    public = timed["ours: public url()"]
    hits = {label: timed[f"ours: private url(), cache hit, {label}"] for label in storages}
    bare_get = timed["bare redis-py GET round trip"]
    rows: list[tuple[str, float | None, str]] = [(label, value, "") for label, value in timed.items()]
    if s3storages is None:
        rows.append(("django-storages S3Storage.url()", None, "not installed"))

    previous = _previous_release(endpoint, access_key, secret_key)
    if isinstance(previous, str):
        for label in ("private, uncached", "public", "private, cache on (hit)"):
            rows.append((f"{PREVIOUS_RELEASE}: {label}", None, previous))
    else:
        rows.append((f"{PREVIOUS_RELEASE}: private, uncached", previous["private"], ""))
        rows.append((f"{PREVIOUS_RELEASE}: public", previous["public"], ""))
        rows.append((f"{PREVIOUS_RELEASE}: private, cache on (hit)", previous["cached"], "HEAD per call"))

    print()
    print(_table(rows, raw))
    print()
    print("Targets:")
    print(f"  private uncached vs raw SDK: 1/{raw / uncached:.1f} (target: at most 1/8)")
    if not isinstance(previous, str):
        print(f"  public vs previous release: {public / previous['public']:.3f}x (target: at most 0.5x)")
    print(f"  LRU hit: {hits['lru']:.2f} µs = 1/{raw / hits['lru']:.0f} of the raw SDK presign (target: at most 2 µs)")
    print(f"  Redis hit vs bare GET: {hits['redis'] / bare_get:.2f}x (target: at most 1.5x)")
    print(f"  S3 requests during all cache hits: {s3_requests_on_hits} (target: 0)")
    bare.close()


if __name__ == "__main__":
    main()
