"""URL cache on one of Django's caches, for projects that already run memcached, Redis or a DB cache.

The backend is looked up in `django.core.cache.caches` on every call rather than
held, because Django gives each thread (and async task) its own backend instance and
some client libraries are not thread-safe. Keys are the caller's fixed-length ASCII
hashes behind a short prefix, which stays within Django's (memcached's) key rules.
Django's backends raise library-specific errors, so any failure is reported as
CacheUnavailable, chained to the original.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.core.cache import caches

from .base import BaseURLCache, CacheUnavailable

__all__ = ["DjangoURLCache"]


class DjangoURLCache(BaseURLCache):
    """URL cache on `caches[alias]`; an unknown alias raises InvalidCacheBackendError (ImproperlyConfigured)."""

    __slots__ = ("_alias", "_prefix")

    def __init__(self, alias: str = "default", prefix: str = "minio_url_") -> None:
        caches[alias]  # fail at configuration time, not on first URL
        self._alias = alias
        self._prefix = prefix

    def get(self, key: str) -> str | None:
        try:
            value = caches[self._alias].get(self._prefix + key)
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
