"""Pluggable cache for presigned URLs.

Storage.url() signs URLs locally, but signing still costs far more than a dictionary
lookup, so signed URLs are cached until shortly before they expire. The cache behind
that is chosen by `CacheConfig.backend` and built by `build_url_cache()`:

- ``"lru"``: an in-process, bounded LRU (the default; no dependencies).
- ``"redis"``: a shared Redis, via redis-py (``pip install django-minio-backend[redis]``).
- ``"django"``: any cache from Django's ``CACHES`` setting.
- a dotted path to a class: it is called with the `CacheConfig` as its only argument
  and the instance must implement `URLCache`.

Keys are short ASCII strings (fixed-length hashes); values are URLs. Backends that can
fail at runtime (network caches) raise `CacheUnavailable` and nothing else, so the
storage layer can fall back to signing without knowing which backend is in use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

__all__ = ["BaseURLCache", "CacheConfig", "CacheUnavailable", "URLCache", "build_url_cache"]


class CacheUnavailable(Exception):
    """The cache could not be reached or failed; the caller should work without it."""


@runtime_checkable
class URLCache(Protocol):
    """What the storage calls on a URL cache, and nothing more. Timeouts are in seconds; <= 0 stores nothing.

    The backends shipped here also offer ``get(key)`` and ``delete_many(keys)``.
    """

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """Return only the keys that were found."""
        ...

    def set(self, key: str, value: str, timeout: int) -> None: ...

    def set_many(self, items: Mapping[str, str], timeout: int) -> None: ...

    def delete(self, key: str) -> None: ...


class BaseURLCache(ABC):
    """The rules every backend shipped here follows, written once: a timeout <= 0 stores nothing and drops
    what the keys held, and an empty batch makes no call. A backend stores with `_set` / `_set_many` and
    drops with `delete` / `_delete_many`."""

    __slots__ = ()

    def set(self, key: str, value: str, timeout: int) -> None:
        if timeout <= 0:
            self.delete(key)
        else:
            self._set(key, value, timeout)

    def set_many(self, items: Mapping[str, str], timeout: int) -> None:
        if timeout <= 0:
            self.delete_many(list(items))
        elif items:
            self._set_many(items, timeout)

    def delete_many(self, keys: Sequence[str]) -> None:
        if keys:
            self._delete_many(keys)

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def _set(self, key: str, value: str, timeout: int) -> None: ...

    @abstractmethod
    def _set_many(self, items: Mapping[str, str], timeout: int) -> None:
        """Store a batch that is not empty, with a timeout > 0."""

    @abstractmethod
    def _delete_many(self, keys: Sequence[str]) -> None:
        """Drop a batch that is not empty."""


@dataclass(frozen=True)
class CacheConfig:
    """Which URL cache to build and how."""

    backend: str = "lru"  # "lru" | "redis" | "django" | dotted path to a class taking a CacheConfig
    prefix: str = "minio_url_"  # namespace for every key in shared caches
    max_entries: int = 10_000  # bound of the "lru" backend
    redis_url: str | None = field(default=None, repr=False)  # may hold a password
    django_alias: str = "default"


def build_url_cache(config: CacheConfig) -> URLCache:
    """Build the configured cache, raising ImproperlyConfigured with a clear message on any misconfiguration."""
    backend = config.backend
    if backend == "lru":
        from .lru import LRUCache

        if config.max_entries < 1:
            raise ImproperlyConfigured(f"URL cache max_entries must be at least 1, got {config.max_entries}.")
        return LRUCache(max_entries=config.max_entries)
    if backend == "redis":
        if not config.redis_url:
            raise ImproperlyConfigured('The "redis" URL cache needs redis_url (e.g. "redis://localhost:6379/0").')
        try:
            from .redis import RedisURLCache
        except ImportError as exc:
            raise ImproperlyConfigured(
                f'The "redis" URL cache needs redis-py: pip install "django-minio-backend[redis]" ({exc}).'
            ) from exc
        return RedisURLCache(config.redis_url, prefix=config.prefix)
    if backend == "django":
        from .django import DjangoURLCache

        return DjangoURLCache(alias=config.django_alias, prefix=config.prefix)
    if "." not in backend:
        raise ImproperlyConfigured(
            f'Unknown URL cache backend "{backend}": use "lru", "redis", "django" or a dotted path to a class.'
        )
    return _build_custom(backend, config)


def _build_custom(path: str, config: CacheConfig) -> URLCache:
    try:
        factory = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f'Cannot import URL cache backend "{path}": {exc}') from exc
    if not callable(factory):
        raise ImproperlyConfigured(f'URL cache backend "{path}" is not a class.')
    cache = factory(config)
    if not isinstance(cache, URLCache):
        raise ImproperlyConfigured(
            f'URL cache backend "{path}" does not implement URLCache (get_many, set, set_many, delete).'
        )
    return cache
