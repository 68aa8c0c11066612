"""Building urllib3 pools: the one factory, whose connections and retries honour the call's deadline.

`new_pool` is the only place a pool is built (the shared pool of an alias, the health probe's own), so both
verify TLS alike. A connection used under a deadline (deadlines.within) connects and waits for the answer's
head no longer than what remains, and is watched from the start of its request until it goes back to the
pool, so the watchdog can cut it when the deadline passes. A streamed answer's body is not watched while
the caller does something else; each read of it is (`receiving`). The SDK's requests retry with
`DeadlineRetry`, whose waits are capped.
"""

from __future__ import annotations

import contextlib
import os
import socket
from types import TracebackType
from typing import Any, Final, Literal

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import InvalidHeader

from .deadlines import Deadline, current, retry_wait, watchdog
from .settings import MinioSettings

__all__ = ["SDK_RETRIES", "DeadlineRetry", "idle", "new_pool", "receiving"]


class WatchedHTTPConnection(HTTPConnection):
    """An HTTP connection whose socket timeouts end with the deadline, and that the watchdog can cut."""

    deadline: Deadline | None = None  # of the request in progress, until the connection goes back to the pool

    def connect(self) -> None:
        deadline = current()
        if deadline is not None:
            self.timeout = deadline.bound(self.timeout)
        super().connect()
        if deadline is not None:
            self._watch(deadline)

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = self.deadline = current()
        if deadline is not None:
            self.timeout = deadline.bound(self.timeout)
            if self.sock is not None:  # a pooled connection; a new one is watched once connected
                self._watch(deadline)
        super().request(*args, **kwargs)

    def getresponse(self) -> urllib3.HTTPResponse:  # type: ignore[override]  # as urllib3 itself
        deadline = self.deadline
        if deadline is not None:
            self.timeout = deadline.bound(self.timeout)
        response = super().getresponse()
        if deadline is not None and deadline.fired:  # cut mid-head: http.client takes what came for a whole head
            response.close()
            raise deadline.exceeded()
        return response

    def close(self) -> None:
        self.release_deadline()
        super().close()

    def sever(self) -> None:
        """Shut the socket down (called by the watchdog): a thread blocked on it wakes up with an error."""
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the descriptor, below any TLS layer

    def release_deadline(self) -> None:
        if self.deadline is not None:
            watchdog().unwatch(self)
            self.deadline = None

    def _watch(self, deadline: Deadline) -> None:
        self.deadline = deadline
        watchdog().watch(self, deadline)


class WatchedHTTPSConnection(WatchedHTTPConnection, HTTPSConnection):
    """The TLS variant."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        if isinstance(conn, WatchedHTTPConnection):
            conn.release_deadline()
        super()._put_conn(conn)


class _HTTPSPool(_HTTPPool, HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


class DeadlinePoolManager(urllib3.PoolManager):
    """A PoolManager whose connections honour the deadline of the call in progress."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineRetry(urllib3.Retry):
    """urllib3's retries with every wait (Retry-After included) capped at MAX_RETRY_DELAY and never past the
    call's deadline; a Retry-After that is neither seconds nor a date falls back to the backoff."""

    def sleep(self, response: urllib3.BaseHTTPResponse | None = None) -> None:
        delay = None
        if response is not None and self.respect_retry_after_header:
            with contextlib.suppress(InvalidHeader):
                delay = self.get_retry_after(response)
        retry_wait(self.get_backoff_time() if delay is None else delay)


# The SDK's calls through the shared pool: a few retries of idempotent calls, with capped waits; when they run out
# the server's own error is raised.
SDK_RETRIES: Final = DeadlineRetry(
    total=2, connect=2, read=0, backoff_factor=0.2, status_forcelist=(502, 503, 504), raise_on_status=False
)


def new_pool(
    settings: MinioSettings, *, timeout: urllib3.Timeout, retries: urllib3.Retry | Literal[False]
) -> urllib3.PoolManager:
    """A pool of deadline-aware connections to the alias's server. TLS is verified against certifi's CAs (or
    SSL_CERT_FILE); when the user gave a MINIO_HTTP_CLIENT, a pool built besides it (the health probe's) takes
    its connection options instead."""
    if settings.http_client is not None:
        options: dict[str, Any] = dict(settings.http_client.connection_pool_kw)
    else:
        options = {
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": os.environ.get("SSL_CERT_FILE") or certifi.where(),
            "maxsize": max(10, settings.upload_workers * 2),
        }
    options.update(timeout=timeout, retries=retries)
    return DeadlinePoolManager(**options)


def idle(response: urllib3.BaseHTTPResponse) -> None:
    """Stop watching a streamed answer whose head has arrived: until its body is read (`receiving`), the
    time is the caller's, not the server's."""
    connection = response.connection
    if isinstance(connection, WatchedHTTPConnection):
        watchdog().unwatch(connection)


class receiving:  # a class used like a function: `with receiving(response) as pieces: ...`
    """One read of a streamed answer's body, which must end within a full deadline of its own (a read in several
    pieces calls `next()` before each further piece, for a full deadline again); a read cut by the watchdog raises
    DeadlineExceeded. Without our pool (MINIO_HTTP_CLIENT), nothing is watched."""

    __slots__ = ("_connection", "_deadline")

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        connection = response.connection
        self._connection = connection if isinstance(connection, WatchedHTTPConnection) else None
        self._deadline = self._connection.deadline if self._connection is not None else None

    def __enter__(self) -> receiving:
        if self._connection is not None and self._deadline is not None:
            self._deadline.restart()
            watchdog().watch(self._connection, self._deadline)
        return self

    def next(self) -> None:
        """A full deadline from now for the next piece; the connection stays watched (no lock taken)."""
        if self._deadline is not None:
            self._deadline.restart()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._connection is None or self._deadline is None:
            return
        watchdog().unwatch(self._connection)
        if self._deadline.fired:
            raise self._deadline.exceeded() from error
