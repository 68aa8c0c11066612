"""The URL cache contract, run against the LRU, a real redis-server and Django's LocMemCache."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from cache_backends import CacheConfig, CacheUnavailable, build_url_cache
from cache_backends.django import DjangoURLCache
from cache_backends.lru import LRUCache
from cache_backends.redis import RedisURLCache
from tests.helpers import cache_prefix, fork_children
from tests.servers import RedisServer, free_ports

BACKENDS = ["lru", "redis", "django"]
# The shipped backends: the URLCache protocol (what the storage calls) plus get() and delete_many().
Backend = LRUCache | RedisURLCache | DjangoURLCache


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class DictCache:
    """A custom backend loaded by dotted path; keeps the config it was built with."""

    def __init__(self, config: CacheConfig) -> None:
        self.config = config
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        return {key: self.data[key] for key in keys if key in self.data}

    def set(self, key: str, value: str, timeout: int) -> None:
        self.data[key] = value

    def set_many(self, items: Mapping[str, str], timeout: int) -> None:
        self.data.update(items)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.data.pop(key, None)


class NotACache:
    """Importable and callable with a config, but without the URLCache methods."""

    def __init__(self, config: CacheConfig) -> None:
        self.config = config


def closed_port_url() -> str:
    (port,) = free_ports(1)
    return f"redis://127.0.0.1:{port}/0"


def eventually(predicate: Callable[[], bool], limit: float = 5.0) -> bool:
    """Poll until predicate holds or `limit` seconds pass; for real server-side expiry."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session redis-server from conftest; tests stay apart through unique key prefixes."""
    return redis_server.url


@pytest.fixture
def django_caches() -> Iterator[None]:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "url-cache-default"},
        "urls": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "url-cache-urls"},
        "down": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": closed_port_url()},
    }
    with override_settings(CACHES=caches):
        yield


@pytest.fixture
def redis_cache(redis_url: str) -> Iterator[RedisURLCache]:
    cache = RedisURLCache(redis_url, prefix=cache_prefix())
    yield cache
    cache.close()


@pytest.fixture(params=BACKENDS)
def cache(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "lru":
        yield LRUCache(max_entries=100)
    elif request.param == "redis":
        yield request.getfixturevalue("redis_cache")
    else:
        request.getfixturevalue("django_caches")
        yield DjangoURLCache("urls", prefix=cache_prefix())


# --- the contract, for every backend -------------------------------------------------------------------------------


def test_get_returns_what_set_stored(cache: Backend) -> None:
    cache.set("a", "https://s3.example/b/a?X-Amz-Signature=1", 60)
    assert cache.get("a") == "https://s3.example/b/a?X-Amz-Signature=1"


def test_get_missing_is_none(cache: Backend) -> None:
    assert cache.get("missing") is None


def test_set_overwrites(cache: Backend) -> None:
    cache.set("a", "one", 60)
    cache.set("a", "two", 60)
    assert cache.get("a") == "two"


def test_values_come_back_as_str(cache: Backend) -> None:
    cache.set("u", "https://s3.example/b/ünïcode.txt", 60)
    value = cache.get("u")
    assert isinstance(value, str)
    assert value == "https://s3.example/b/ünïcode.txt"


def test_get_many_returns_only_hits(cache: Backend) -> None:
    cache.set("a", "1", 60)
    cache.set("c", "3", 60)
    assert cache.get_many(["a", "b", "c", "d"]) == {"a": "1", "c": "3"}
    assert cache.get_many(["x", "y"]) == {}
    assert cache.get_many([]) == {}


def test_set_many_stores_every_item_and_accepts_an_empty_mapping(cache: Backend) -> None:
    cache.set_many({"a": "1", "b": "2", "c": "3"}, 60)
    assert cache.get("b") == "2"
    assert cache.get_many(["a", "b", "c"]) == {"a": "1", "b": "2", "c": "3"}
    cache.set_many({}, 60)


def test_delete_removes_one_key_and_ignores_a_missing_one(cache: Backend) -> None:
    cache.set("a", "1", 60)
    cache.set("b", "2", 60)
    cache.delete("a")
    cache.delete("never-set")
    assert cache.get("a") is None
    assert cache.get("b") == "2"


def test_delete_many_removes_the_given_keys_and_ignores_missing_ones(cache: Backend) -> None:
    cache.set_many({"a": "1", "b": "2", "c": "3"}, 60)
    cache.delete_many(["a", "c", "never-set"])
    cache.delete_many([])
    assert cache.get_many(["a", "b", "c"]) == {"b": "2"}


def test_nonpositive_timeout_stores_nothing_and_drops_old_value(cache: Backend) -> None:
    cache.set_many({"a": "1", "b": "2", "c": "3"}, 60)
    cache.set("a", "new", 0)
    cache.set_many({"b": "new", "c": "new"}, -5)
    assert cache.get_many(["a", "b", "c"]) == {}


# --- expiry -------------------------------------------------------------------------------------------------------


def test_lru_entry_expires_at_its_timeout() -> None:
    clock = FakeClock()
    cache = LRUCache(clock=clock)
    cache.set("short", "s", 10)
    cache.set_many({"long": "l"}, 100)
    clock.now += 9.9
    assert cache.get("short") == "s"
    clock.now += 0.1
    assert cache.get("short") is None
    assert cache.get_many(["short", "long"]) == {"long": "l"}
    clock.now += 90
    assert cache.get_many(["long"]) == {}


def test_lru_drops_expired_entries_on_read() -> None:
    clock = FakeClock()
    cache = LRUCache(clock=clock)
    cache.set_many({"a": "1", "b": "2", "c": "3"}, 5)
    clock.now += 5
    assert len(cache) == 3
    assert cache.get("a") is None
    assert cache.get_many(["b"]) == {}
    assert len(cache) == 1


def test_redis_sets_expiry_on_every_key(redis_url: str) -> None:
    prefix = cache_prefix()
    cache = RedisURLCache(redis_url, prefix=prefix)
    cache.set("a", "1", 30)
    cache.set_many({"b": "2", "c": "3"}, 300)
    ttls = [cache.client.ttl(prefix + key) for key in ("a", "b", "c")]
    cache.close()
    assert 0 < ttls[0] <= 30
    assert 30 < ttls[1] <= 300
    assert 30 < ttls[2] <= 300


def test_redis_entry_really_expires(redis_cache: RedisURLCache) -> None:
    redis_cache.set("a", "1", 1)
    assert redis_cache.get("a") == "1"
    assert eventually(lambda: redis_cache.get("a") is None)


def test_django_entry_really_expires(django_caches: None) -> None:
    cache = DjangoURLCache("urls", prefix=cache_prefix())
    cache.set_many({"a": "1"}, 1)
    assert cache.get("a") == "1"
    assert eventually(lambda: cache.get_many(["a"]) == {})


# --- prefixes -----------------------------------------------------------------------------------------------------


def test_redis_prefixes_isolate_caches(redis_url: str) -> None:
    first, second = RedisURLCache(redis_url, prefix=cache_prefix()), RedisURLCache(redis_url, prefix=cache_prefix())
    first.set("k", "first", 60)
    assert second.get("k") is None
    second.set_many({"k": "second", "only-second": "x"}, 60)
    assert first.get_many(["k", "only-second"]) == {"k": "first"}
    first.delete_many(["k", "only-second"])
    assert second.get_many(["k", "only-second"]) == {"k": "second", "only-second": "x"}
    first.close()
    second.close()


def test_redis_stores_under_the_prefix(redis_url: str) -> None:
    prefix = cache_prefix()
    cache = RedisURLCache(redis_url, prefix=prefix)
    cache.set("k", "v", 60)
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    assert raw.get(prefix + "k") == "v"
    assert raw.get("k") is None
    raw.close()
    cache.close()


def test_django_prefixes_isolate_caches(django_caches: None) -> None:
    first, second = DjangoURLCache("urls", prefix=cache_prefix()), DjangoURLCache("urls", prefix=cache_prefix())
    first.set("k", "first", 60)
    assert second.get("k") is None
    second.set("k", "second", 60)
    assert first.get_many(["k"]) == {"k": "first"}
    assert second.get_many(["k"]) == {"k": "second"}


# --- LRU bound and threads ----------------------------------------------------------------------------------------


def test_lru_evicts_least_recently_used() -> None:
    cache = LRUCache(max_entries=3)
    cache.set_many({"a": "1", "b": "2", "c": "3"}, 60)
    assert cache.get("a") == "1"  # b is now the least recently used
    cache.set("d", "4", 60)
    assert len(cache) == 3
    assert cache.get("b") is None
    assert cache.get_many(["a", "c", "d"]) == {"a": "1", "c": "3", "d": "4"}


def test_lru_overwrite_and_get_many_refresh_recency() -> None:
    cache = LRUCache(max_entries=3)
    cache.set_many({"a": "1", "b": "2", "c": "3"}, 60)
    cache.set("a", "1bis", 60)  # order: b c a
    cache.get_many(["b"])  # order: c a b
    cache.set_many({"d": "4"}, 60)
    assert cache.get("c") is None
    assert cache.get_many(["a", "b", "d"]) == {"a": "1bis", "b": "2", "d": "4"}


def test_lru_rejects_nonpositive_bound() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        LRUCache(max_entries=0)


def test_lru_survives_many_threads() -> None:
    cache = LRUCache(max_entries=64)
    keys = [f"k{i}" for i in range(500)]
    errors: list[BaseException] = []
    wrong: list[tuple[str, str]] = []
    start = threading.Barrier(8)

    def hammer(seed: int) -> None:
        try:
            start.wait()
            for i in range(4000):
                key = keys[(i * 7 + seed * 31) % len(keys)]
                op = (i + seed) % 5
                if op == 0:
                    cache.set(key, "v" + key, 60)
                elif op == 1:
                    cache.set_many({key: "v" + key, keys[(i + 1) % len(keys)]: "v" + keys[(i + 1) % len(keys)]}, 60)
                elif op == 2:
                    value = cache.get(key)
                    if value is not None and value != "v" + key:
                        wrong.append((key, value))
                elif op == 3:
                    for got_key, value in cache.get_many(keys[i % 400 : i % 400 + 5]).items():
                        if value != "v" + got_key:
                            wrong.append((got_key, value))
                else:
                    cache.delete(key)
        except BaseException as exc:  # noqa: BLE001 - reported below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so unlocked check-then-act sequences would interleave
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert wrong == []
    assert 0 < len(cache) <= 64


# --- failures -----------------------------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_redis_down_raises_cache_unavailable() -> None:
    cache = RedisURLCache(closed_port_url())
    operations: list[Callable[[], object]] = [
        lambda: cache.get("a"),
        lambda: cache.get_many(["a", "b"]),
        lambda: cache.set("a", "1", 60),
        lambda: cache.set_many({"a": "1", "b": "2"}, 60),
        lambda: cache.delete("a"),
        lambda: cache.delete_many(["a", "b"]),
    ]
    for operation in operations:
        with pytest.raises(CacheUnavailable) as info:
            operation()
        assert isinstance(info.value.__cause__, redis.ConnectionError)


def test_django_backend_errors_become_cache_unavailable(django_caches: None) -> None:
    cache = DjangoURLCache("down")
    with pytest.raises(CacheUnavailable, match="'down'"):
        cache.get("a")
    with pytest.raises(CacheUnavailable):
        cache.set_many({"a": "1"}, 60)
    with pytest.raises(CacheUnavailable):
        cache.delete_many(["a"])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_uses_its_own_connection(redis_cache: RedisURLCache) -> None:
    redis_cache.set("k", "v", 60)
    parent_id = redis_cache.client.client_id()

    def child(_: int) -> str:  # the value the child read and the connection it used
        return f"{redis_cache.get('k')} {redis_cache.client.client_id()}"

    report = fork_children(child, 1)[0].text
    value, child_id = report.split(" ", 1)
    assert value == "v", report
    assert int(child_id) != parent_id
    # the child's reset must not have closed the parent's socket: same connection, still working
    assert redis_cache.get("k") == "v"
    assert redis_cache.client.client_id() == parent_id


# --- the factory --------------------------------------------------------------------------------------------------


def test_factory_default_is_lru() -> None:
    cache = build_url_cache(CacheConfig())
    assert isinstance(cache, LRUCache)
    cache.set("a", "1", 60)
    assert cache.get("a") == "1"


def test_factory_lru_bound_comes_from_config() -> None:
    cache = build_url_cache(CacheConfig(max_entries=2))
    cache.set_many({"a": "1", "b": "2", "c": "3"}, 60)
    assert cache.get_many(["a", "b", "c"]) == {"b": "2", "c": "3"}


def test_factory_builds_redis_with_prefix(redis_url: str) -> None:
    prefix = cache_prefix()
    cache = build_url_cache(CacheConfig(backend="redis", redis_url=redis_url, prefix=prefix))
    assert isinstance(cache, RedisURLCache)
    cache.set("k", "v", 60)
    assert cache.client.get(prefix + "k") == "v"
    cache.close()


def test_factory_builds_django_cache(django_caches: None) -> None:
    cache = build_url_cache(CacheConfig(backend="django", django_alias="urls"))
    assert isinstance(cache, DjangoURLCache)
    cache.set("k", "v", 60)
    assert cache.get("k") == "v"


def test_factory_loads_custom_class_by_dotted_path() -> None:
    config = CacheConfig(backend=f"{__name__}.DictCache", prefix="custom_")
    cache = build_url_cache(config)
    assert isinstance(cache, DictCache)
    assert cache.config is config
    cache.set("k", "v", 60)
    assert cache.get("k") == "v"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (CacheConfig(backend="memcached"), "Unknown URL cache backend"),
        (CacheConfig(backend="no_such_module_xyz.Cache"), "Cannot import"),
        (CacheConfig(backend=f"{__name__}.Missing"), "Cannot import"),
        (CacheConfig(backend=f"{__name__}.NotACache"), "does not implement URLCache"),
        (CacheConfig(backend=f"{__name__}.BACKENDS"), "is not a class"),
        (CacheConfig(backend="redis"), "needs redis_url"),
        (CacheConfig(backend="redis", redis_url=""), "needs redis_url"),
        (CacheConfig(backend="lru", max_entries=0), "max_entries"),
    ],
)
def test_factory_rejects_bad_config(config: CacheConfig, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        build_url_cache(config)


def test_factory_rejects_unknown_django_alias(django_caches: None) -> None:
    with pytest.raises(ImproperlyConfigured, match="nope"):
        build_url_cache(CacheConfig(backend="django", django_alias="nope"))


def test_factory_explains_missing_redis_py(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # makes `import redis` fail as if not installed
    monkeypatch.delitem(sys.modules, "cache_backends.redis")
    with pytest.raises(ImproperlyConfigured, match=r"pip install .*\[redis\]"):
        build_url_cache(CacheConfig(backend="redis", redis_url="redis://127.0.0.1:6379/0"))
