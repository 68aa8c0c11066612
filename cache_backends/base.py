"""What every URL cache shares: the protocol the core calls, its one exception, the config, the common rules."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["BaseURLCache", "CacheConfig", "CacheUnavailable", "URLCache"]


class CacheUnavailable(Exception):
    """The cache could not be reached or failed; the caller should work without it."""


@runtime_checkable
class URLCache(Protocol):
    """What the storage calls on a URL cache, and nothing more. Timeouts are in seconds; <= 0 stores nothing.

    The backends shipped here also offer ``delete_many(keys)``.
    """

    def get(self, key: str) -> str | None:
        """The value, or None when the key is not there: a hit of url() is this one call."""
        ...

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
