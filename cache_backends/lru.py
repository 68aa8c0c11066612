"""In-process LRU cache with per-entry expiry: the default URL cache, free of dependencies.

Entries live in an OrderedDict (oldest use first) as (value, expires_at) tuples on a
monotonic clock, so wall-clock jumps never extend or cut a URL's life. Expiry is
checked on read; expired entries that are never read again age out through the LRU bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

from .base import BaseURLCache

__all__ = ["LRUCache"]


class LRUCache(BaseURLCache):
    """Thread-safe bounded LRU. The storage is private to the instance, so keys need no prefix."""

    __slots__ = ("_clock", "_data", "_lock", "_max_entries")

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Stored entries, including expired ones not yet dropped."""
        return len(self._data)

    def get(self, key: str) -> str | None:
        now = self._clock()
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[1] <= now:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return entry[0]

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        now = self._clock()
        found: dict[str, str] = {}
        data = self._data
        with self._lock:
            for key in keys:
                entry = data.get(key)
                if entry is None:
                    continue
                if entry[1] <= now:
                    del data[key]
                    continue
                data.move_to_end(key)
                found[key] = entry[0]
        return found

    def _set(self, key: str, value: str, timeout: int) -> None:
        entry = (value, self._clock() + timeout)
        data = self._data
        with self._lock:
            data[key] = entry
            data.move_to_end(key)
            if len(data) > self._max_entries:
                data.popitem(last=False)

    def _set_many(self, items: Mapping[str, str], timeout: int) -> None:
        expires_at = self._clock() + timeout
        data = self._data
        with self._lock:
            for key, value in items.items():
                data[key] = (value, expires_at)
                data.move_to_end(key)
            overflow = len(data) - self._max_entries
            for _ in range(overflow):
                data.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def _delete_many(self, keys: Sequence[str]) -> None:
        data = self._data
        with self._lock:
            for key in keys:
                data.pop(key, None)
