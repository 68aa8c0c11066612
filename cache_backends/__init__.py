"""Pluggable cache for presigned URLs.

Storage.url() signs URLs locally; the cache keeps each object's version (a hash of its
ETag), so storages that replace objects hand out a new URL as soon as the content changes.
The cache behind that is chosen by `CacheConfig.backend` and built by `build_url_cache()`:

- ``"lru"``: an in-process, bounded LRU (the default; no dependencies).
- ``"redis"``: a shared Redis, via redis-py (``pip install django-minio-backend[redis]``).
- ``"django"``: any cache from Django's ``CACHES`` setting.
- a dotted path to a class: it is called with the `CacheConfig` as its only argument
  and the instance must implement `URLCache`.

Keys are short ASCII strings (fixed-length hashes); values are short strings. Backends that can
fail at runtime (network caches) raise `CacheUnavailable` and nothing else, so the
storage layer can fall back to signing without knowing which backend is in use.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import BaseURLCache, CacheConfig, CacheUnavailable, URLCache

__all__ = ["BaseURLCache", "CacheConfig", "CacheUnavailable", "URLCache", "build_url_cache"]


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
            f'URL cache backend "{path}" does not implement URLCache (get, get_many, set, set_many, delete).'
        )
    return cache
