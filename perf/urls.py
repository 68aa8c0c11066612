"""URLs: µs per url() call, and url_many() against the number of names (1 ... 10,000).

    python -m perf.urls [--quick] [--json PATH]

Measures the raw minio SDK presign, our URLs signed at the start of a stable window (the default) and with the
window off, with temporary credentials (a session token from the server's STS) and without, public URLs (also with
MINIO_PUBLIC_URL_BASE and MINIO_KEY_PREFIX), our cache hits on every backend (plus url_many, and a bare redis-py GET
of the same kind of value for reference), django-storages' S3 backend and the previous release (django-minio-backend
4.4.4 with the minio it pins, timed in a child process, since its module name is ours too), all in interleaved
passes in this run. Counts the S3 requests made during all cache hits, which must be zero. The url_many curve times
one call for the first N names of objects that exist, cache hits (lru and redis) and uncached, against a loop of
url() or presign calls of the peers.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perf._bench import PREVIOUS, child_json, clean_env, previous_release, storages_installed
from perf._results import OURS

if TYPE_CHECKING:
    from perf._bench import Bench

TOPIC = "urls"
PRIVATE, PUBLIC = "bench-private", "bench-public"
EXPIRY = 2 * 3600
HERE = Path(__file__).resolve().parent
SDK = "minio-sdk"
STORAGES = "django-storages"
CDN = "https://cdn.example.com/media/"
US = "µs/call"


def _names(count: int, prefix: str = "media") -> list[str]:
    return [
        f"{prefix}/2024-05-{index % 28 + 1:02d}/photo {index:05d}{' ü+%~' if index % 5 == 0 else ''}.jpg"
        for index in range(count)
    ]


def _configure(endpoint: str, access_key: str, secret_key: str, redis_url: str) -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
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


def _previous_release(bench: Bench, names: list[str]) -> dict[str, float] | str:
    """µs per call of the previous release, or the reason it could not be measured."""
    directory = previous_release()
    if isinstance(directory, str):
        return directory
    config = {
        "endpoint": bench.server.endpoint,
        "access_key": bench.server.access_key,
        "secret_key": bench.server.secret_key,
        "private": PRIVATE,
        "public": PUBLIC,
        "expiry": EXPIRY,
        "names": names,
        "cached_names": bench.pick(20, 5),  # it sends a HEAD per call even on a hit: keep the run short
        "passes": bench.pick(9, 2),
        "target": str(directory),
    }
    # The script's directory (perf/) comes first on sys.path, never the project root.
    result: dict[str, float] = child_json(
        [sys.executable, str(HERE / "_previous_release.py"), json.dumps(config)],
        env=clean_env(str(directory)),
        cwd=bench.workdir,
        label="previous release url()",
    )
    return result


def _django_storages(bench: Bench) -> Callable[[str], str] | None:
    if not storages_installed():
        return None
    from storages.backends.s3 import S3Storage  # type: ignore[import-untyped]

    storage = S3Storage(
        bucket_name=PRIVATE,
        endpoint_url=f"http://{bench.server.endpoint}",
        access_key=bench.server.access_key,
        secret_key=bench.server.secret_key,
        region_name="us-east-1",
        signature_version="s3v4",
        addressing_style="path",
        querystring_expire=EXPIRY,
    )
    url: Callable[[str], str] = storage.url
    return url


def _session_storage(server: Any) -> Any:
    """A storage signing with temporary credentials from the server's STS (AssumeRole: an access key, a secret and a
    session token of several hundred characters), or why there is none."""
    from minio.credentials.providers import AssumeRoleProvider

    from django_minio_backend import MinioBackend

    provider = AssumeRoleProvider(
        sts_endpoint=f"http://{server.endpoint}",
        access_key=server.access_key,
        secret_key=server.secret_key,
        role_session_name="perf-urls",
    )
    try:
        provider.retrieve()
    except Exception as error:  # noqa: BLE001 - a server without STS: reported, not fatal
        return f"the server's STS refused AssumeRole ({error!r})"
    return MinioBackend(
        bucket_name=PRIVATE,
        storage_name="default",
        MINIO_ACCESS_KEY=None,
        MINIO_SECRET_KEY=None,
        MINIO_CREDENTIALS_PROVIDER=provider,
    )


def _put_all(admin: Any, names: Sequence[str]) -> None:
    def put(name: str) -> None:
        admin.put_object(bucket_name=PRIVATE, object_name=name, data=io.BytesIO(b"x"), length=1)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, names))


def run(bench: Bench) -> None:
    from minio import Minio

    server = bench.server
    redis_url = bench.redis_url()
    _configure(server.endpoint, server.access_key, server.secret_key, redis_url)

    import redis

    from django_minio_backend import MinioBackend
    from django_minio_backend.policies import public_read_policy, set_policy
    from perf._timing import Case, interleaved
    from tests.counting import CountingPoolManager

    results = bench.results
    passes, budget = bench.pick((25, 0.03), (2, 0.01))  # many short passes: on a shared machine some are quiet
    names = _names(100)
    admin = Minio(
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=False,
        region="us-east-1",
    )
    for bucket in (PRIVATE, PUBLIC):
        if not admin.bucket_exists(bucket_name=bucket):
            admin.make_bucket(bucket_name=bucket)
    set_policy(admin, PUBLIC, public_read_policy(PUBLIC))
    _put_all(admin, names)

    counter = CountingPoolManager(maxsize=16)

    def cached(backend: str, **extra: Any) -> MinioBackend:
        return MinioBackend(
            bucket_name=PRIVATE,
            storage_name="default",
            MINIO_URL_CACHING_ENABLED=True,
            MINIO_URL_CACHE_BACKEND=backend,
            MINIO_HTTP_CLIENT=counter,
            **extra,
        )

    storages = {
        "lru": cached("lru"),
        "redis": cached("redis"),
        "django LocMemCache": cached("django"),
        "django RedisCache": cached("django", MINIO_URL_CACHE_DJANGO_ALIAS="redis", MINIO_URL_CACHE_PREFIX="dj_"),
    }
    for storage in storages.values():
        storage.url_many(names)  # fill: one HEAD per object, as they were written elsewhere
    bare = redis.Redis.from_url(redis_url, decode_responses=True)
    bare.set("bench-bare-key", "0123456789abcdef")  # what a hit reads: an object's version
    peer_url = _django_storages(bench)
    session = _session_storage(server)
    if isinstance(session, str):
        results.note(TOPIC, f"url() with a session token not measured: {session}")

    def public_storage(**options: Any) -> MinioBackend:
        """The public bucket as the alias's own (default) bucket, which MINIO_PUBLIC_URL_BASE maps to."""
        return MinioBackend(storage_name="default", MINIO_DEFAULT_BUCKET=PUBLIC, **options)

    def raw_presign(name: str) -> str:
        return admin.presigned_get_object(bucket_name=PRIVATE, object_name=name, expires=timedelta(seconds=EXPIRY))

    def whole_page(storage: MinioBackend) -> Callable[[str], object]:
        return lambda _: storage.url_many(names)

    # (case, library) -> what is timed; url_many cases are one call for all names, divided afterwards
    cases: dict[tuple[str, str], Case] = {
        ("private url()", SDK): (raw_presign, names),
        ("private url()", OURS): (MinioBackend(bucket_name=PRIVATE).url, names),
        ("private url(), stable window off", OURS): (
            MinioBackend(bucket_name=PRIVATE, MINIO_URL_STABLE_WINDOW=0).url,
            names,
        ),
        ("public url()", OURS): (MinioBackend(bucket_name=PUBLIC).url, names),
        ("public url(), MINIO_PUBLIC_URL_BASE", OURS): (public_storage(MINIO_PUBLIC_URL_BASE=CDN).url, names),
        ("public url(), MINIO_KEY_PREFIX", OURS): (public_storage(MINIO_KEY_PREFIX="media").url, names),
        ("public url(), URL base and key prefix", OURS): (
            public_storage(MINIO_PUBLIC_URL_BASE=CDN, MINIO_KEY_PREFIX="media").url,
            names,
        ),
    }
    if not isinstance(session, str):
        cases[("private url(), session token", OURS)] = (session.url, names)
    for label, storage in storages.items():
        cases[(f"private url(), cache hit, {label}", OURS)] = (storage.url, names)
    cases[("private url(), URL caching on", OURS)] = cases[("private url(), cache hit, lru", OURS)]
    for label in ("lru", "redis"):
        cases[(f"url_many(100 names), cache hit, {label}, per name", OURS)] = (whole_page(storages[label]), ["p"])
    cases[("private url(), cache hit, redis", "redis-py GET round trip")] = (
        lambda _: bare.get("bench-bare-key"),
        ["k"] * 100,
    )
    if peer_url is not None:
        cases[("private url()", STORAGES)] = (peer_url, names)
    else:
        results.note(TOPIC, "django-storages not installed (pip install -e '.[bench]'): not measured")
    counter.reset()
    labels = {key: f"{key[0]} | {key[1]}" for key in cases}
    timed = interleaved({labels[key]: case for key, case in cases.items()}, passes=passes, budget=budget)
    requests_on_hits = counter.count()
    for (case, library), label in labels.items():
        value = timed[label] / (len(names) if case.startswith("url_many") else 1)
        results.add(TOPIC, case, "time", library, value, US, "lower")

    previous = _previous_release(bench, names)
    if isinstance(previous, str):
        results.note(TOPIC, f"{PREVIOUS}: {previous}")
    else:
        results.add(TOPIC, "private url()", "time", PREVIOUS, previous["private"], US, "lower")
        results.add(TOPIC, "public url()", "time", PREVIOUS, previous["public"], US, "lower")
        results.add(TOPIC, "private url(), URL caching on", "time", PREVIOUS, previous["cached"], US, "lower")
        results.note(TOPIC, f"{PREVIOUS} with URL caching on sends a HEAD per url() call")

    by_key = {key: timed[label] for key, label in labels.items()}
    raw = by_key[("private url()", SDK)]
    windowed, plain = by_key[("private url()", OURS)], by_key[("private url(), stable window off", OURS)]
    results.check(TOPIC, "private url() uncached / raw SDK presign", windowed / raw, "<= 0.125")
    results.check(TOPIC, "windowed signing / plain signing", windowed / plain, "<= 1.1")
    if not isinstance(session, str):
        with_token = by_key[("private url(), session token", OURS)]
        results.note(TOPIC, f"url() with a session token / without: {with_token / windowed:.2f}x (no target)")
    if not isinstance(previous, str):
        results.check(
            TOPIC, "public url() / previous release", by_key[("public url()", OURS)] / previous["public"], "<= 0.5"
        )
    lru_hit = by_key[("private url(), cache hit, lru", OURS)]
    results.check(TOPIC, "LRU cache hit / raw SDK presign", lru_hit / raw, "<= 0.05")
    public = by_key[("public url()", OURS)]
    for case in ("MINIO_PUBLIC_URL_BASE", "MINIO_KEY_PREFIX", "URL base and key prefix"):
        results.check(
            TOPIC, f"public url() with {case} / without", by_key[(f"public url(), {case}", OURS)] / public, "<= 1.1"
        )
    bare_get = by_key[("private url(), cache hit, redis", "redis-py GET round trip")]
    redis_hit = by_key[("private url(), cache hit, redis", OURS)]
    results.check(TOPIC, "redis cache hit / bare redis GET", redis_hit / bare_get, "<= 1.2")
    django_redis_hit = by_key[("private url(), cache hit, django RedisCache", OURS)]
    results.check(TOPIC, "Django RedisCache hit / bare redis GET", django_redis_hit / bare_get, "<= 1.5")
    results.check(TOPIC, "S3 requests during all cache hits", requests_on_hits, "<= 0")
    bare.close()
    _url_many_curve(bench, admin, raw_presign, peer_url)


def _url_many_curve(
    bench: Bench, admin: Any, raw_presign: Callable[[str], str], peer_url: Callable[[str], str] | None
) -> None:
    """One url_many() call for N names, N = 1 ... 10,000: the cost should grow linearly, with the one cache
    round trip spread over more names as N grows."""
    from django_minio_backend import MinioBackend
    from perf._timing import Case, interleaved

    sizes = bench.pick([1, 10, 100, 1_000, 10_000], [1, 10, 100])
    names = _names(sizes[-1], prefix="many")
    _put_all(admin, names)
    lru = MinioBackend(
        bucket_name=PRIVATE,
        storage_name="default",
        MINIO_URL_CACHING_ENABLED=True,
        MINIO_URL_CACHE_BACKEND="lru",
        MINIO_URL_CACHE_MAX_ENTRIES=4 * len(names),  # two entries a name: all of them fit
    )
    redis = MinioBackend(
        bucket_name=PRIVATE,
        storage_name="default",
        MINIO_URL_CACHING_ENABLED=True,
        MINIO_URL_CACHE_BACKEND="redis",
        MINIO_URL_CACHE_PREFIX="many_",
    )
    uncached = MinioBackend(bucket_name=PRIVATE)
    for storage in (lru, redis):  # the HEAD per name of the fill, spread over threads
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(storage.url, names))

    series: dict[str, Callable[[Sequence[str]], object]] = {
        "ours, cache hit, lru": lru.url_many,
        "ours, cache hit, redis": redis.url_many,
        "ours, uncached (signing)": uncached.url_many,
        f"{SDK} (presign loop)": lambda chosen: [raw_presign(name) for name in chosen],
    }
    if peer_url is not None:
        series[f"{STORAGES} (url() loop)"] = lambda chosen: [peer_url(name) for name in chosen]
    cases: dict[str, Case] = {}
    for label, call in series.items():
        for size in sizes:
            cases[f"{label}|{size}"] = (_one_call(call, names[:size]), ["call"])
    passes, budget = bench.pick((5, 0.05), (1, 0.005))
    timed = interleaved(cases, passes=passes, budget=budget)
    curve = bench.results.curve(TOPIC, "url_many(N names)", "names", "time per call", "µs", per="names")
    for key, micros in timed.items():
        label, count = key.rsplit("|", 1)
        curve.add(label, int(count), micros)


def _one_call(call: Callable[[Sequence[str]], object], names: Sequence[str]) -> Callable[[str], object]:
    """A case for _timing: each timed call is one call for all of `names`."""
    return lambda _: call(names)


def main() -> None:
    from perf.__main__ import topic_main

    topic_main(TOPIC)


if __name__ == "__main__":
    main()
