"""Process-wide resources and locks that a forked child gets fresh instead of inheriting.

A connection pool, SDK client, executor or cache connection belongs to the process that built it. After
a fork (gunicorn --preload, celery prefork, multiprocessing) the child holds copies of the parent's
sockets, so two processes would read each other's answers on one connection, and none of the parent's
threads exist in the child, so a lock one of them held stays locked there forever.

- `PerProcess` is a get-or-create registry of such resources. Users look a resource up at each use
  (one dict lookup by a key they compute once) and never keep it on an instance or in a closure.
- `ForkSafeLock` is the lock for module-level state.

A forked child empties every registry and replaces every `ForkSafeLock` with a new, free one before
any of its code runs (`os.register_at_fork`), so lookups need no `os.getpid()` check, which would cost a
system call per use. A fork that skips Python's fork hooks (a C extension calling fork() without
PyOS_AfterFork_Child, such as uWSGI without `py-call-osafterfork`) leaves the child sharing the
parent's resources; Python's own locks are unsafe in such a child too.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, ParamSpec, TypeVar

__all__ = ["ForkSafeLock", "PerProcess", "this_process"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
P = ParamSpec("P")


class ForkSafeLock:
    """A mutex (like `threading.Lock`) that a forked child gets back free, whichever thread held it at the fork."""

    __slots__ = ("__weakref__", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        _locks.add(self)

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *_: object) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def _renew(self) -> None:
        self._lock = threading.Lock()


class PerProcess(Generic[K, V]):
    """This process's resources by key: each built on its first use, at most once; emptied in a forked child.

    Looking one up is a dict lookup; the lock is taken only to build a missing one.
    """

    __slots__ = ("__weakref__", "_items", "_lock")

    def __init__(self) -> None:
        self._items: dict[K, V] = {}
        self._lock = ForkSafeLock()
        _registries.add(self)

    def get(self, key: K, build: Callable[P, V], /, *args: P.args, **kwargs: P.kwargs) -> V:
        """The resource for `key`, built by `build(*args, **kwargs)` if this process has none yet."""
        found = self._items.get(key)
        if found is None:
            with self._lock:
                found = self._items.get(key)
                if found is None:
                    found = self._items[key] = build(*args, **kwargs)
        return found

    def find(self, key: K) -> V | None:
        """The resource for `key` if this process has built it; never builds one."""
        return self._items.get(key)

    def clear(self) -> None:
        """Forget every resource (none is closed: a caller may still be using it); the next lookups build anew."""
        with self._lock:
            self._items = {}

    def _forget_inherited(self) -> None:
        self._items = {}  # the parent's: dropped, never closed, as closing could disturb the parent's connections


def this_process() -> object:
    """A token of this process: the same object at every call, a new one in a forked child. An object that
    starts work which only its own process can finish (a multipart upload with parts on its threads) keeps
    it, and tells a copy inherited by a child from the original without a system call."""
    return _tokens.get(None, object)


_locks: weakref.WeakSet[ForkSafeLock] = weakref.WeakSet()
_registries: weakref.WeakSet[PerProcess[Any, Any]] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """Runs in the child before anything else can (it has a single thread now), so no lock is needed here."""
    for lock in list(_locks):
        lock._renew()
    for registry in list(_registries):
        registry._forget_inherited()


_tokens: PerProcess[None, object] = PerProcess()
os.register_at_fork(after_in_child=_after_fork_in_child)
