"""One deadline per storage call, or per request of a transfer, honoured by every socket and every retry wait.

A storage method opens `within(seconds, operation)`: the absolute deadline then lives in a contextvar for
everything the call does in its thread. Three things honour it:

- the connections of our pool (pool.py) never connect or wait for an answer longer than what remains;
- the watchdog, one thread per process, shuts down a socket still in use when its deadline passes, since a
  server that trickles a byte at a time defeats every per-recv timeout;
- retry waits, ours and urllib3's, are cut to MAX_RETRY_DELAY and never reach past the deadline.

Time spent sending a request body, or between the caller's reads of an answer's body, is progress, not
waiting, and is not counted (`Deadline.pause`, `pool.receiving`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar, Token
from http.client import HTTPException
from types import TracebackType
from typing import Final, Protocol, TypeVar

from urllib3.exceptions import HTTPError

from .errors import DeadlineExceeded
from .per_process import PerProcess

__all__ = ["MAX_RETRY_DELAY", "Deadline", "DeadlineExceeded", "current", "each_within", "retry_wait", "within"]

MAX_RETRY_DELAY: Final = 10.0  # the longest wait before a retry, whatever Retry-After says
TICK: Final = 0.1  # how often the watchdog looks at its sockets while it watches any
_MARGIN: Final = 0.01  # socket timeouts end just after the deadline, so a timeout there is the deadline's

T = TypeVar("T")


class Deadline:
    """An absolute time limit on time.monotonic()'s clock for `operation`, `seconds` long."""

    __slots__ = ("_left", "at", "fired", "operation", "seconds")

    def __init__(self, seconds: float, operation: str) -> None:
        self.seconds = seconds
        self.operation = operation
        self.at = time.monotonic() + seconds
        self.fired = False  # the watchdog shut a socket down for it
        self._left: float | None = None  # seconds that were left when pause() stopped the clock

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.fired or time.monotonic() >= self.at

    def bound(self, timeout: float | None) -> float | None:
        """A socket timeout (None: none) cut so it ends with the deadline; raises once the deadline has passed."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.exceeded()
        left += _MARGIN
        return left if timeout is None or timeout > left else timeout

    def pause(self) -> None:
        """Stop the clock: a request body is being sent, which is progress, not waiting."""
        if self._left is None:
            self._left = self.at - time.monotonic()
            self.at = math.inf

    def resume(self) -> None:
        if self._left is not None:
            self.at = time.monotonic() + self._left
            self._left = None

    def restart(self) -> None:
        """A full deadline from now (for the next piece of an answer's body)."""
        self._left = None
        self.fired = False
        self.at = time.monotonic() + self.seconds

    def exceeded(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"{self.operation} did not finish within MINIO_REQUEST_DEADLINE ({self.seconds:g}s)")

    def sleep(self, seconds: float, cause: BaseException | None = None) -> None:
        """Wait before a retry: at most MAX_RETRY_DELAY, and not at all (raising) when the retry could not
        start before the deadline."""
        seconds = min(seconds, MAX_RETRY_DELAY)
        if seconds >= self.remaining():
            if cause is None:
                raise self.exceeded()
            raise self.exceeded() from cause
        if seconds > 0:
            time.sleep(seconds)


_current: ContextVar[Deadline | None] = ContextVar("django_minio_backend_deadline", default=None)


def current() -> Deadline | None:
    """The deadline of the call in progress in this thread (or task), if any."""
    return _current.get()


class within:  # a class used like a function: `with within(30.0, "exists('a.txt')"):`
    """Bound the calls inside the block by a deadline `seconds` from now; a block inside another keeps the outer
    deadline. A transport failure (socket, HTTP) that leaves the block after the deadline is re-raised as
    DeadlineExceeded naming `operation`; answers from the server (S3Error, "not found") pass unchanged."""

    __slots__ = ("_deadline", "_token")

    def __init__(self, seconds: float, operation: str) -> None:
        active = _current.get()
        self._token: Token[Deadline | None] | None = None
        self._deadline = active if active is not None else Deadline(seconds, operation)

    def __enter__(self) -> Deadline:
        if _current.get() is not self._deadline:
            self._token = _current.set(self._deadline)
        return self._deadline

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        if error is not None and _is_transport_failure(error) and self._deadline.passed():
            raise self._deadline.exceeded() from error


def _is_transport_failure(error: BaseException) -> bool:
    if isinstance(error, DeadlineExceeded):
        return False
    if isinstance(error, HTTPError | HTTPException | ConnectionError | TimeoutError):
        return True
    return isinstance(error, OSError) and error.errno is not None  # a socket's error, not one of our answers


def each_within(items: Iterable[T], seconds: float, operation: str) -> Iterator[T]:
    """The items of a lazily fetched listing, each step (so each page fetched) within its own deadline."""
    iterator = iter(items)
    while True:
        with within(seconds, operation):
            try:
                item = next(iterator)
            except StopIteration:
                return
        yield item


def retry_wait(seconds: float, cause: BaseException | None = None) -> None:
    """Wait before a retry, capped at MAX_RETRY_DELAY and never past the current deadline."""
    deadline = _current.get()
    if deadline is not None:
        deadline.sleep(seconds, cause)
    elif seconds > 0:
        time.sleep(min(seconds, MAX_RETRY_DELAY))


# -- the watchdog -------------------------------------------------------------------------------------------------


class Severable(Protocol):
    """A connection the watchdog can cut: `sever()` shuts its socket down, waking any thread blocked on it."""

    def sever(self) -> None: ...


class Watchdog:
    """Severs watched connections whose deadline has passed. Its thread starts on first use, looks every TICK
    while requests come and go, and sleeps when a look finds nothing watched. Watching and unwatching are a
    dictionary update under a lock: no thread per call, and the thread is woken only from that sleep."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._watched: dict[Severable, Deadline] = {}
        self._thread: threading.Thread | None = None
        self._asleep = False

    def watch(self, connection: Severable, deadline: Deadline) -> None:
        with self._lock:
            self._watched[connection] = deadline
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="minio-deadline-watchdog", daemon=True)
                self._thread.start()
            elif self._asleep:
                self._asleep = False
                self._wake.notify()

    def unwatch(self, connection: Severable) -> None:
        with self._lock:
            self._watched.pop(connection, None)

    def _run(self) -> None:
        with self._lock:
            while True:
                if not self._watched:
                    self._asleep = True
                    while self._asleep:
                        self._wake.wait()
                now = time.monotonic()
                for connection, deadline in list(self._watched.items()):
                    if deadline.at <= now:
                        deadline.fired = True
                        del self._watched[connection]
                        connection.sever()  # under the lock: an unwatched connection is never cut afterwards
                self._wake.wait(TICK)


_watchdogs: PerProcess[None, Watchdog] = PerProcess()


def watchdog() -> Watchdog:
    """This process's watchdog (a forked child gets its own: the parent's thread does not exist there)."""
    return _watchdogs.get(None, Watchdog)
