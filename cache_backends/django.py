"""URL cache on one of Django's caches, for projects that already run memcached, Redis or a DB cache.

The backend is looked up in `django.core.cache.caches` on every call rather than
held, because Django gives each thread (and async task) its own backend instance and
some client libraries are not thread-safe (reads from Django's RedisCache are the
exception: see `DjangoURLCache`). Keys are the caller's fixed-length ASCII
hashes behind a short prefix, which stays within Django's (memcached's) key rules.
Django's backends raise library-specific errors, so any failure is reported as
CacheUnavailable, chained to the original.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping, Sequence

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from .base import BaseURLCache, CacheUnavailable

__all__ = ["DjangoURLCache"]

Reader = Callable[[str], object]


class DjangoURLCache(BaseURLCache):
    """URL cache on `caches[alias]`; an unknown alias raises InvalidCacheBackendError (ImproperlyConfigured).

    A read (url()'s hit) on Django's own RedisCache skips two costs of its `get()`, which builds a redis-py client
    for every call (about as long as the round trip itself) and checks the key for memcached: it reads through one
    client kept for the life of this object (one per process: the storage layer builds one per process) on the
    pool Django reads from, with Django's key and Django's value format (pickled strings). Any other backend is
    read through `get()`.
    """

    __slots__ = ("_alias", "_prefix", "_reader")

    def __init__(self, alias: str = "default", prefix: str = "minio_url_") -> None:
        caches[alias]  # fail at configuration time, not on first URL
        self._alias = alias
        self._prefix = prefix
        self._reader: Reader | None = None

    def _read_through_django(self, key: str) -> object:
        return caches[self._alias].get(key)

    def _new_reader(self) -> Reader:
        backend = caches[self._alias]
        if type(backend) is not RedisCache:
            return self._read_through_django
        try:
            client = backend._cache.get_client(write=False)  # a redis-py client on Django's read pool
        except AttributeError:  # a Django whose RedisCache is built otherwise: the plain path is still right
            return self._read_through_django
        make_key = backend.make_key

        def read(key: str) -> object:
            data = client.get(make_key(key))
            if not isinstance(data, bytes):
                return None
            try:
                return pickle.loads(data)  # RedisCache pickles every value it stores but ints
            except Exception:  # noqa: BLE001 - an int or another program's bytes: not a value of ours, a miss
                return None

        return read

    def get(self, key: str) -> str | None:
        try:
            reader = self._reader
            if reader is None:
                reader = self._reader = self._new_reader()
            value = reader(self._prefix + key)
        except Exception as exc:
            raise CacheUnavailable(f"Django cache {self._alias!r} get failed: {exc!r}") from exc
        return value if isinstance(value, str) else None

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        prefix = self._prefix
        start = len(prefix)
        try:
            found = caches[self._alias].get_many([prefix + key for key in keys])
        except Exception as exc:
            raise CacheUnavailable(f"Django cache {self._alias!r} get_many failed: {exc!r}") from exc
        return {key[start:]: value for key, value in found.items() if isinstance(value, str)}

    def _set(self, key: str, value: str, timeout: int) -> None:
        try:
            caches[self._alias].set(self._prefix + key, value, timeout)
        except Exception as exc:
            raise CacheUnavailable(f"Django cache {self._alias!r} set failed: {exc!r}") from exc

    def _set_many(self, items: Mapping[str, str], timeout: int) -> None:
        prefix = self._prefix
        try:
            caches[self._alias].set_many({prefix + key: value for key, value in items.items()}, timeout)
        except Exception as exc:
            raise CacheUnavailable(f"Django cache {self._alias!r} set_many failed: {exc!r}") from exc

    def delete(self, key: str) -> None:
        try:
            caches[self._alias].delete(self._prefix + key)
        except Exception as exc:
            raise CacheUnavailable(f"Django cache {self._alias!r} delete failed: {exc!r}") from exc

    def _delete_many(self, keys: Sequence[str]) -> None:
        prefix = self._prefix
        try:
            caches[self._alias].delete_many([prefix + key for key in keys])
        except Exception as exc:
            raise CacheUnavailable(f"Django cache {self._alias!r} delete_many failed: {exc!r}") from exc
