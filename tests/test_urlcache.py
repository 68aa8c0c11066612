"""The URL cache (each object's version, signed into its URLs): against the live S3 server and a real redis-server.

S3 traffic is counted with the `counting_pool` fixture (MINIO_HTTP_CLIENT), cache traffic with RecordingLRU (a
custom backend loaded by dotted path, over the real LRU). Time-dependent rules run on an injected clock.
"""

from __future__ import annotations

import logging
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import redis
from django.core.cache import caches as django_caches
from django.core.files.base import ContentFile
from django.test import override_settings
from minio import Minio

from cache_backends import CacheConfig, CacheUnavailable
from cache_backends.django import DjangoURLCache
from cache_backends.lru import LRUCache
from django_minio_backend import MinioBackend
from django_minio_backend.urlcache import VERSION_PARAMETER, CachedURLBuilder, SharedCache, shared_cache, version_of
from tests.counting import CountingPoolManager
from tests.helpers import RecordingCache, cache_prefix, fetch, http_status, put_bytes, query, signed_at
from tests.servers import RedisServer, free_ports, start_redis
from tests.settings import PRIVATE_BUCKET, PUBLIC_BUCKET

BACKENDS = ["lru", "redis", "django"]
EXPIRY = 7200  # MINIO_URL_EXPIRY_HOURS of the test "default" alias
LOGGER = "django_minio_backend.urlcache"


class RecordingLRU(RecordingCache):
    """A custom backend (loaded by dotted path) over the real LRU that records every call by method name."""

    def __init__(self, config: CacheConfig) -> None:
        super().__init__(LRUCache(max_entries=config.max_entries))


class BrokenCache(RecordingLRU):
    """A cache that is down: every call is recorded, then fails."""

    def get(self, key: str) -> str | None:
        self.calls.append("get")
        raise CacheUnavailable("down for the test")

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        self.calls.append("get_many")
        raise CacheUnavailable("down for the test")

    def set_many(self, items: Mapping[str, str], timeout: int) -> None:
        self.calls.append("set_many")
        raise CacheUnavailable("down for the test")


class Clock:
    """Wall and monotonic time, moved by hand; starts at the real time so the URLs are also valid for S3."""

    def __init__(self) -> None:
        self.now = float(int(time.time())) + 0.25

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def life_left(url: str, now: float) -> float:
    """Fraction of the URL's validity still ahead at `now`."""
    expires = int(query(url)["X-Amz-Expires"])
    return (signed_at(url) + expires - now) / expires


@pytest.fixture
def make_storage(
    live_settings: dict[str, Any], redis_server: RedisServer, counting_pool: CountingPoolManager
) -> Callable[..., MinioBackend]:
    """Storages on the private test bucket with URL caching on, counting their S3 requests; a fresh key
    prefix per test keeps tests apart in the shared caches."""
    prefix = cache_prefix()

    def make(backend: str = "lru", bucket: str = PRIVATE_BUCKET, **overrides: Any) -> MinioBackend:
        options: dict[str, Any] = {
            "MINIO_URL_CACHING_ENABLED": True,
            "MINIO_URL_CACHE_BACKEND": backend,
            "MINIO_URL_CACHE_PREFIX": prefix,
            "MINIO_URL_CACHE_REDIS_URL": redis_server.url,
            "MINIO_HTTP_CLIENT": counting_pool,
        }
        options.update(overrides)
        return MinioBackend(bucket_name=bucket, storage_name="default", **options)

    return make


@pytest.fixture(params=BACKENDS)
def cached(request: pytest.FixtureRequest, make_storage: Callable[..., MinioBackend]) -> MinioBackend:
    """A caching storage for each backend (the Django one on the test settings' LocMemCache)."""
    return make_storage(request.param)


def recording(storage: MinioBackend) -> RecordingCache:
    cache = shared_cache(storage.settings).cache
    assert isinstance(cache, RecordingCache)
    return cache


# --- hits: same URL, zero S3 requests ------------------------------------------------------------------------------


def test_hit_makes_no_s3_request_and_returns_the_same_url(
    cached: MinioBackend, counting_pool: CountingPoolManager, unique: str
) -> None:
    name = cached.save(f"{unique}/photo.jpg", ContentFile(b"pixels"))
    counting_pool.reset()
    first = cached.url(name)
    assert counting_pool.count() == 0  # our own save recorded the ETag: not even the first URL needs a HEAD
    for _ in range(5):
        assert cached.url(name) == first
    assert counting_pool.count() == 0
    assert fetch(first) == b"pixels"


def test_a_hit_is_one_read_of_one_key(
    make_storage: Callable[..., MinioBackend], counting_pool: CountingPoolManager, unique: str
) -> None:
    storage = make_storage("tests.test_urlcache.RecordingLRU")
    name = storage.save(f"{unique}/one-read.txt", ContentFile(b"r"))
    cache = recording(storage)
    cache.calls.clear()
    counting_pool.reset()
    first = storage.url(name)
    assert storage.url(name, parameters={"response-content-type": "text/plain"}, expire=600) != first
    assert cache.calls == ["get", "get"]  # one read per url(), whatever its parameters: nothing written
    assert counting_pool.count() == 0


def test_urls_carry_the_objects_version(make_storage: Callable[..., MinioBackend], unique: str) -> None:
    storage = make_storage("lru")
    name = storage.save(f"{unique}/versioned.txt", ContentFile(b"v1"))
    url = storage.url(name)
    assert query(url)[VERSION_PARAMETER] == version_of(storage._head_etag(name))
    assert fetch(url) == b"v1"  # the server ignores the parameter, and the signature covers it
    assert http_status(url.replace(f"{VERSION_PARAMETER}=", f"{VERSION_PARAMETER}=0")) == 403  # so it cannot be forged
    with pytest.raises(ValueError, match=VERSION_PARAMETER):
        storage.url(name, parameters={VERSION_PARAMETER: "mine"})
    uncached = MinioBackend(bucket_name=PRIVATE_BUCKET, storage_name="default")
    assert VERSION_PARAMETER not in query(uncached.url(name))  # without a cache, no version


def test_django_redis_cache_hits_in_one_round_trip(
    make_storage: Callable[..., MinioBackend],
    counting_pool: CountingPoolManager,
    redis_server: RedisServer,
    unique: str,
) -> None:
    """On Django's own RedisCache the version is read through one kept client, in Django's key and value format."""
    caches_setting = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_server.url},
    }
    with override_settings(CACHES=caches_setting):
        storage = make_storage("django", MINIO_URL_CACHE_DJANGO_ALIAS="redis")
        name = storage.save(f"{unique}/django-redis.txt", ContentFile(b"d"))
        counting_pool.reset()
        first = storage.url(name)
        assert [storage.url(name) for _ in range(3)] == [first] * 3
        assert counting_pool.count() == 0
        cache = shared_cache(storage.settings).cache
        assert isinstance(cache, DjangoURLCache)
        index_key = storage.settings.url_cache_prefix + "e" + cast(CachedURLBuilder, storage._urls)._digest(name)
        assert django_caches["redis"].get(index_key) == query(first)[VERSION_PARAMETER]  # Django reads what we wrote
        replacing = make_storage("django", MINIO_URL_CACHE_DJANGO_ALIAS="redis", replace_existing=True)
        replacing.save(name, ContentFile(b"new content"))
        second = storage.url(name)  # the kept client reads what Django's set() wrote
        assert second != first
        assert fetch(second) == b"new content"


def test_object_written_elsewhere_costs_one_head_then_hits(
    cached: MinioBackend, counting_pool: CountingPoolManager, admin_client: Minio, unique: str
) -> None:
    name = f"{unique}/external ü+%~.txt"
    put_bytes(admin_client, name, b"outside")
    counting_pool.reset()
    first = cached.url(name)
    assert counting_pool.requests and all(method == "HEAD" for method, _ in counting_pool.requests)
    assert counting_pool.count() == 1
    counting_pool.reset()
    assert cached.url(name) == first
    assert counting_pool.count() == 0
    assert fetch(first) == b"outside"


def test_another_storage_instance_shares_the_cache(
    make_storage: Callable[..., MinioBackend], counting_pool: CountingPoolManager, admin_client: Minio, unique: str
) -> None:
    name = f"{unique}/shared.txt"
    put_bytes(admin_client, name, b"x")
    first = make_storage("lru").url(name)
    counting_pool.reset()
    assert make_storage("lru").url(name) == first
    assert counting_pool.count() == 0


def test_redis_cache_is_shared_between_processes(
    make_storage: Callable[..., MinioBackend], counting_pool: CountingPoolManager, admin_client: Minio, unique: str
) -> None:
    """A second builder with its own Redis pool (as in another worker process) gets the stored URL."""
    storage = make_storage("redis")
    name = f"{unique}/worker.txt"
    put_bytes(admin_client, name, b"x")
    first = storage.url(name)
    settings = storage.settings
    from cache_backends.redis import RedisURLCache

    assert settings.url_cache_redis_url is not None
    other_pool = RedisURLCache(settings.url_cache_redis_url, prefix=settings.url_cache_prefix)
    other = CachedURLBuilder(settings, PRIVATE_BUCKET, cache=SharedCache(other_pool, "other"), head=storage._head_etag)
    counting_pool.reset()
    assert other.url(name) == first
    assert counting_pool.count() == 0
    other_pool.close()


# --- invalidation through our own writes ---------------------------------------------------------------------------


def test_new_content_saved_through_the_backend_gets_a_new_url(
    make_storage: Callable[..., MinioBackend], counting_pool: CountingPoolManager, unique: str
) -> None:
    for backend in BACKENDS:
        storage = make_storage(backend, replace_existing=True)
        name = storage.save(f"{unique}/{backend}/doc.txt", ContentFile(b"version one"))
        first = storage.url(name)
        assert storage.save(name, ContentFile(b"version two")) == name
        counting_pool.reset()
        second = storage.url(name)  # almost always within the same second as `first`
        assert second != first
        assert counting_pool.count() == 0  # the PUT response carried the new ETag
        assert storage.url(name) == second
        assert fetch(second) == b"version two"


def test_same_content_saved_again_keeps_its_url(make_storage: Callable[..., MinioBackend], unique: str) -> None:
    storage = make_storage("lru", replace_existing=True)
    name = storage.save(f"{unique}/same.txt", ContentFile(b"unchanged"))
    first = storage.url(name)
    storage.save(name, ContentFile(b"unchanged"))
    assert storage.url(name) == first


def test_delete_forgets_the_object(
    make_storage: Callable[..., MinioBackend], counting_pool: CountingPoolManager, unique: str
) -> None:
    storage = make_storage("lru", replace_existing=True)
    # A first 404 in a process also asks whether the bucket exists (once per process, see MinioBackend._stat): one
    # here, whichever tests ran before, so the requests counted below are this test's alone.
    assert not storage.exists(f"{unique}/never-saved.txt")
    name = storage.save(f"{unique}/gone.txt", ContentFile(b"soon gone"))
    first = storage.url(name)
    storage.delete(name)
    counting_pool.reset()
    after_delete = storage.url(name)
    # the index entry is gone: ask the server, which says 404 (one request: the bucket is known to exist)
    assert [(method, url.endswith(f"/{name}")) for method, url in counting_pool.requests] == [("HEAD", True)]
    assert http_status(after_delete) == 404
    counting_pool.reset()
    storage.url(name)
    assert counting_pool.count() == 0  # "no such object" is remembered briefly, so list pages do not HEAD-storm
    storage.save(name, ContentFile(b"back with new content"))
    again = storage.url(name)
    assert again != first
    assert storage.url(name) == again
    assert fetch(again) == b"back with new content"


# --- keys: what makes two URLs different ---------------------------------------------------------------------------


def test_parameters_and_expire_are_cached_apart(
    make_storage: Callable[..., MinioBackend], counting_pool: CountingPoolManager, unique: str
) -> None:
    storage = make_storage("lru")
    name = storage.save(f"{unique}/report.bin", ContentFile(b"data"))
    disposition = {"response-content-disposition": 'attachment; filename="r.bin"'}
    both = {**disposition, "response-content-type": "text/plain"}
    plain = storage.url(name)
    with_params = storage.url(name, parameters=disposition)
    short = storage.url(name, expire=300)
    with_both = storage.url(name, parameters=both)
    assert len({plain, with_params, short, with_both}) == 4
    assert query(short)["X-Amz-Expires"] == "300"
    counting_pool.reset()
    assert storage.url(name, parameters=disposition) == with_params
    assert storage.url(name, expire=300) == short
    assert storage.url(name, parameters=dict(reversed(both.items()))) == with_both  # order does not matter
    assert storage.url(name, expire=EXPIRY) == plain  # the alias default spelled out is the same URL
    assert counting_pool.count() == 0
    with urllib.request.urlopen(with_params, timeout=10) as response:
        assert response.headers["Content-Disposition"] == 'attachment; filename="r.bin"'
    with pytest.raises(ValueError):
        storage.url(name, expire=8 * 24 * 3600)


def test_parameter_pairs_cannot_collide(make_storage: Callable[..., MinioBackend], unique: str) -> None:
    storage = make_storage("lru")
    name = storage.save(f"{unique}/p.txt", ContentFile(b"p"))
    # Joined naively, both would read "response-cache-control=x&response-content-type=y".
    one = storage.url(name, parameters={"response-cache-control": "x&response-content-type=y"})
    two = storage.url(name, parameters={"response-cache-control": "x", "response-content-type": "y"})
    assert one != two
    assert query(one)["response-cache-control"] == "x&response-content-type=y"
    assert "response-content-type" not in query(one)
    assert query(two)["response-content-type"] == "y"


def test_aliases_never_share_urls(make_storage: Callable[..., MinioBackend], unique: str) -> None:
    """Same bucket and object, same cache: another access key or external endpoint gets its own URL."""
    storage = make_storage("lru")
    name = storage.save(f"{unique}/alias.txt", ContentFile(b"a"))
    mine = storage.url(name)
    other_key = make_storage("lru", MINIO_ACCESS_KEY="another-access-key").url(name)
    other_host = make_storage("lru", MINIO_EXTERNAL_ENDPOINT="files.example.com").url(name)
    assert "another-access-key" in query(other_key)["X-Amz-Credential"]
    assert query(mine)["X-Amz-Credential"].startswith(f"{storage.settings.access_key}/")
    assert urlsplit(other_host).netloc == "files.example.com"
    assert len({mine, other_key, other_host}) == 3
    assert storage.url(name) == mine


def test_public_urls_are_never_cached(make_storage: Callable[..., MinioBackend], unique: str) -> None:
    storage = make_storage("tests.test_urlcache.RecordingLRU", bucket=PUBLIC_BUCKET)
    cache = recording(storage)  # the cache a private bucket with these settings would use
    name = storage.save(f"{unique}/open.txt", ContentFile(b"open"))
    url = storage.url(name)
    assert "?" not in url
    storage.url(name, parameters={"response-content-type": "text/plain"})  # signed, but still not cached
    assert storage.url_many([name]) == {name: url}
    assert cache.calls == []
    assert fetch(url) == b"open"


# --- batches -------------------------------------------------------------------------------------------------------


def test_url_many_is_one_cache_round_trip(
    make_storage: Callable[..., MinioBackend], counting_pool: CountingPoolManager, admin_client: Minio, unique: str
) -> None:
    storage = make_storage("tests.test_urlcache.RecordingLRU")
    names = [storage.save(f"{unique}/list/{index:02d} ü.txt", ContentFile(b"x")) for index in range(12)]
    outside = f"{unique}/list/outside.txt"
    put_bytes(admin_client, outside, b"y")
    missing = f"{unique}/list/missing.txt"
    wanted = [*names, outside, missing]
    cache = recording(storage)
    cache.calls.clear()
    counting_pool.reset()
    first = storage.url_many(wanted)
    assert list(first) == wanted
    assert cache.calls == ["get_many", "set_many", "set_many"]  # read all; write URLs+index; "missing" marker
    assert counting_pool.count() == 2 and counting_pool.count("HEAD") == 2  # only the objects we did not write
    cache.calls.clear()
    counting_pool.reset()
    second = storage.url_many(wanted)
    assert cache.calls == ["get_many"]
    assert counting_pool.count() == 0
    assert {name: second[name] for name in [*names, outside]} == {name: first[name] for name in [*names, outside]}
    assert {name: storage.url(name) for name in names} == {name: first[name] for name in names}
    assert fetch(second[outside]) == b"y"
    assert http_status(second[missing]) == 404


def test_url_many_without_cache_matches_url(media: MinioBackend, public_media: MinioBackend) -> None:
    names = ["a.txt", "dir/b c.txt", "ü+%.bin"]
    signed = media.url_many(names, expire=600)
    assert list(signed) == names
    for name in names:
        assert query(signed[name])["X-Amz-Expires"] == "600"
        assert urlsplit(signed[name]).path == urlsplit(media.url(name)).path
    assert public_media.url_many(names) == {name: public_media.url(name) for name in names}


@pytest.mark.parametrize("backend", ["redis", "django"])
def test_url_many_hits_on_redis_and_django_caches(
    make_storage: Callable[..., MinioBackend], counting_pool: CountingPoolManager, backend: str, unique: str
) -> None:
    storage = make_storage(backend)
    names = [storage.save(f"{unique}/many/{index}.txt", ContentFile(b"m")) for index in range(5)]
    first = storage.url_many(names)
    counting_pool.reset()
    assert storage.url_many(names) == first
    assert [storage.url(name) for name in names] == [first[name] for name in names]
    assert counting_pool.count() == 0


# --- lifetimes (injected clock) ------------------------------------------------------------------------------------


def clocked(storage: MinioBackend, clock: Clock, head: Callable[[str], str] | None = None) -> CachedURLBuilder:
    cache = SharedCache(LRUCache(clock=clock.monotonic), "clocked")
    return CachedURLBuilder(
        storage.settings, storage.bucket, cache=cache, head=head or storage._head_etag, clock=clock.time
    )


def test_url_stays_the_same_through_its_window_with_most_of_its_life_left(media: MinioBackend, unique: str) -> None:
    name = media.save(f"{unique}/life.txt", ContentFile(b"life"))
    clock = Clock()
    urls = clocked(media, clock)
    window = media.settings.url_window_seconds
    assert window == EXPIRY // 5
    first = urls.url(name)
    assert signed_at(first) == int(clock.now) - int(clock.now) % window  # the start of the window
    while True:
        clock.now += 7.0
        served = urls.url(name)
        if served != first:
            break
        assert life_left(served, clock.now) >= 0.8
    assert signed_at(served) == signed_at(first) + window  # the next window's URL
    assert query(served)[VERSION_PARAMETER] == query(first)[VERSION_PARAMETER]
    assert fetch(first) == fetch(served) == b"life"


def test_per_call_expiry_has_a_window_of_the_same_share(media: MinioBackend, unique: str) -> None:
    name = media.save(f"{unique}/short.txt", ContentFile(b"s"))
    clock = Clock()
    urls = clocked(media, clock)
    first = urls.url(name, expire=100)
    while (served := urls.url(name, expire=100)) == first:
        assert life_left(served, clock.now) >= 0.8
        clock.now += 0.5
    assert signed_at(served) - signed_at(first) == 20  # a fifth of 100 s


def test_unchanged_object_keeps_its_url_when_only_the_index_expired(
    make_storage: Callable[..., MinioBackend], counting_pool: CountingPoolManager, unique: str
) -> None:
    storage = make_storage("lru", MINIO_URL_CACHE_TIMEOUT=60)
    clock = Clock()
    clock.now -= clock.now % storage.settings.url_window_seconds  # the start of a window: the next steps stay in it
    urls = clocked(storage, clock)
    name = storage.save(f"{unique}/index.txt", ContentFile(b"i"))
    urls.remember_etag(name, storage._head_etag(name))
    first = urls.url(name)
    clock.now += 120  # the version entry expired (60 s), the window did not
    counting_pool.reset()
    assert urls.url(name) == first  # one HEAD finds the same ETag, so the same version and URL
    assert counting_pool.count("HEAD") == 1


def test_new_content_in_the_same_window_gets_a_new_url(media: MinioBackend, admin_client: Minio, unique: str) -> None:
    name = f"{unique}/frozen.txt"
    clock = Clock()  # never moves: every URL below is signed for the same window
    urls = clocked(media, clock)
    one = put_bytes(admin_client, name, b"1")
    urls.remember_etag(name, one.etag)
    first = urls.url(name)
    two = put_bytes(admin_client, name, b"22")
    urls.remember_etag(name, f'"{two.etag}"')  # quoted as in a raw ETag header
    second = urls.url(name)
    assert second != first
    assert signed_at(second) == signed_at(first)
    assert (query(first)[VERSION_PARAMETER], query(second)[VERSION_PARAMETER]) == (
        version_of(one.etag or ""),
        version_of(two.etag or ""),
    )
    assert urls.url(name) == second
    assert fetch(second) == b"22"
    assert fetch(first) == b"22"  # a URL names an object, not a version: the old one still reads the current bytes


def test_versions_expire_with_the_timeout(
    make_storage: Callable[..., MinioBackend], redis_server: RedisServer, unique: str
) -> None:
    storage = make_storage("redis")
    name = storage.save(f"{unique}/ttl.txt", ContentFile(b"t"))
    storage.url(name)
    storage.url(name, expire=600, parameters={"response-content-type": "text/plain"})
    client = redis.Redis.from_url(redis_server.url)
    keys = client.keys(storage.settings.url_cache_prefix + "*")
    assert len(keys) == 1  # one version per object, whatever URLs are asked of it
    timeout = storage.settings.url_cache_timeout
    assert timeout - 3 <= client.ttl(keys[0]) <= timeout
    client.close()


# --- failures ------------------------------------------------------------------------------------------------------


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test alone, on a fixed port so it can be stopped and started again."""
    (port,) = free_ports(1)
    server = start_redis(port=port)
    try:
        yield server
    finally:
        server.stop()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER and record.levelno == logging.WARNING]


def test_redis_outage_falls_back_logs_once_and_recovers(
    make_storage: Callable[..., MinioBackend],
    counting_pool: CountingPoolManager,
    own_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
    unique: str,
) -> None:
    storage = make_storage("redis", MINIO_URL_CACHE_REDIS_URL=own_redis.url)
    shared = shared_cache(storage.settings)
    shared.retry_after = 0.0  # try Redis on every call, to see it fail each time and come back at once
    name = storage.save(f"{unique}/outage.txt", ContentFile(b"still served"))
    cached = storage.url(name)
    own_redis.stop()
    caplog.set_level(logging.INFO, logger=LOGGER)
    during = [storage.url(name) for _ in range(5)]
    assert all(fetch(url) == b"still served" for url in during[:1])
    assert len(warnings_of(caplog)) == 1
    assert storage.url_many([name])[name].startswith(cached.split("?")[0])
    storage.save(name.replace(".txt", "-2.txt"), ContentFile(b"saved while down"))  # a save never fails on it
    assert len(warnings_of(caplog)) == 1
    port = urlsplit(own_redis.url).port
    assert port is not None
    restarted = start_redis(port=port)
    try:
        counting_pool.reset()
        refilled = storage.url(name)  # Redis is empty now: one HEAD, then hits again
        assert counting_pool.count("HEAD") == 1
        assert storage.url(name) == refilled
        assert counting_pool.count() == 1
        assert any("answers again" in record.getMessage() for record in caplog.records)
    finally:
        restarted.stop()


def test_failed_cache_is_bypassed_until_retry(make_storage: Callable[..., MinioBackend], unique: str) -> None:
    storage = make_storage("tests.test_urlcache.BrokenCache")
    name = storage.save(f"{unique}/broken.txt", ContentFile(b"b"))
    cache = recording(storage)
    cache.calls.clear()
    urls = [storage.url(name) for _ in range(10)]
    assert cache.calls == ["get"]  # one failure, then the cache is left alone for retry_after seconds
    assert fetch(urls[-1]) == b"b"
    assert VERSION_PARAMETER not in query(urls[-1])  # signed without a version meanwhile
    shared_cache(storage.settings).retry_at = time.monotonic() - 1  # the interval has passed
    storage.url(name)
    assert cache.calls == ["get", "get"]


def test_unreachable_server_on_a_miss_still_gives_a_url(
    make_storage: Callable[..., MinioBackend], caplog: pytest.LogCaptureFixture
) -> None:
    (port,) = free_ports(1)
    storage = make_storage("lru", MINIO_ENDPOINT=f"127.0.0.1:{port}", MINIO_CONNECT_TIMEOUT=1.0, MINIO_HTTP_CLIENT=None)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    first = storage.url("some/object.txt")
    second = storage.url("some/object.txt")
    for url in (first, second):
        assert url.startswith(f"http://127.0.0.1:{port}/{PRIVATE_BUCKET}/some/object.txt?")
        assert "X-Amz-Signature" in query(url)
    assert len(warnings_of(caplog)) == 1


def test_bad_cache_configuration_is_reported(make_storage: Callable[..., MinioBackend]) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="MINIO_URL_CACHE_REDIS_URL"):
        make_storage("redis", MINIO_URL_CACHE_REDIS_URL=None).url("a.txt")


def test_a_storage_keeps_at_most_max_entries_urls(make_storage: Callable[..., MinioBackend], unique: str) -> None:
    """Both per-storage memos (the URLs it signed, the key digests of names) stay within MINIO_URL_CACHE_MAX_ENTRIES."""
    storage = make_storage("lru", MINIO_URL_CACHE_MAX_ENTRIES=2)
    names = [storage.save(f"{unique}/kept-{index}.txt", ContentFile(b"k")) for index in range(5)]
    urls = {name: storage.url(name) for name in names}
    builder = storage._urls
    assert isinstance(builder, CachedURLBuilder)
    assert 0 < len(builder._memo) <= 2
    assert 0 < len(builder._digests) <= 2
    assert storage.url_many(names) == urls  # signed again, the same URLs
