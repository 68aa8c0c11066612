"""Parts of a multipart upload: read from the source into reused buffers, and sent in parallel on the shared pool.

Memory per upload stays under (MINIO_UPLOAD_WORKERS + 1) x part size whatever the file size: the
caller's thread reads a part only when a slot is free and hands it to the process-wide executor, so
no upload starts threads of its own. The first failure stops reading and pending parts are cancelled.
A process keeps up to SPARE_BYTES of part buffers from one upload for the next.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, wait
from typing import Any, Final, NoReturn, TypeVar

from .executor import on_shared_pool, shared_executor
from .per_process import PerProcess, this_process
from .source import UploadSource

__all__ = ["MAX_PARTS", "SPARE_BYTES", "PartReader", "PartSender"]

MAX_PARTS: Final = 10_000
SPARE_BYTES: Final = 64 * 1024 * 1024  # part buffers a process keeps between uploads (see _SpareParts)

T = TypeVar("T")


class PartSender:
    """Sends the parts it is handed, numbered in order, on this process's shared pool (looked up at each part), with
    at most workers + 1 slots: the caller reserves one before it fills a part's buffer, and the slot is free again
    once that part is sent, so a writer holds at most workers + 1 part buffers. The first failure stops it: the
    next `reserve()`, `send()` or `finish()` raises it (a failure a pool thread has seen is its own exception).

    Its parts run on threads of the process that made it, so a copy inherited by a forked child cannot wait for
    them: `crossed_fork` tells the child, whose writer then refuses to go on instead of hanging."""

    def __init__(
        self,
        send_part: Callable[[int, memoryview], str],
        label: str,
        workers: int,
        recycle: Callable[[memoryview], None],
    ) -> None:
        self._send_part = send_part
        self._label = label
        self._workers = workers
        self._inline: Executor | None = _Inline() if on_shared_pool() else None  # made on a pool thread: run inline
        self._process = this_process()
        self._slots = threading.BoundedSemaphore(workers + 1)
        self._recycle = recycle
        self._lock = threading.Lock()
        self._failures: list[BaseException] = []  # the first one appended is the first that happened
        self._futures: list[Future[str]] = []

    @property
    def crossed_fork(self) -> bool:
        """This is a forked child's copy: the parts it sent belong to the parent."""
        return self._process is not this_process()

    def reserve(self) -> None:
        """Wait for a free slot for the next part."""
        self._slots.acquire()
        if self._failures:
            self._slots.release()
            self._stop()

    def unreserve(self) -> None:
        """Give back a slot reserved for a part that will not be sent."""
        self._slots.release()

    def send(self, data: memoryview) -> None:
        """Send `data` as the next part, in the slot reserved for it."""
        if self._failures:
            self._stop()  # stopped: its slots no longer count
        if len(self._futures) >= MAX_PARTS:
            self._slots.release()
            raise ValueError(f"{self._label} needs more than {MAX_PARTS} parts; raise the part size")
        executor = self._inline or shared_executor(self._workers)
        future = executor.submit(self._send_part, len(self._futures) + 1, data)
        future.add_done_callback(functools.partial(self._finished, data))
        self._futures.append(future)

    def finish(self) -> list[str]:
        """Wait for every part sent; their ETags in order."""
        if not self._failures:
            wait(self._futures)
        if self._failures:
            self._stop()
        return [future.result() for future in self._futures]

    def cancel(self) -> None:
        """Cancel the parts not started yet and wait for the running ones, so no part outlives its upload."""
        _cancel_all(self._futures)

    def _stop(self) -> NoReturn:
        self.cancel()
        raise self._failures[0]

    def _finished(self, part: memoryview, future: Future[str]) -> None:
        self._recycle(part)
        self._slots.release()
        error = None if future.cancelled() else future.exception()
        if error is not None:
            with self._lock:
                self._failures.append(error)


class _SpareParts:
    """Part buffers this process keeps from one upload for the next: a fresh buffer costs a page fault per
    4 KiB, which on a virtual machine takes about a third of an upload's CPU. At most SPARE_BYTES are kept,
    all of the latest part size."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # a forked child gets a new _SpareParts (and lock) from the registry
        self._size = 0
        self._buffers: list[bytearray] = []

    def take(self, size: int) -> bytearray:
        with self._lock:
            if size == self._size and self._buffers:
                return self._buffers.pop()
        return bytearray(size)

    def keep(self, buffer: bytearray) -> None:
        with self._lock:
            if len(buffer) != self._size:
                self._size, self._buffers = len(buffer), []
            if (len(self._buffers) + 1) * self._size <= SPARE_BYTES:
                self._buffers.append(buffer)


_spare_parts: PerProcess[None, _SpareParts] = PerProcess()


class PartReader:
    """Reads the source part by part into reused buffers, the part it read ahead (if any) first.

    A buffer is handed back with `recycle()` once its part is sent, and reused for a later part
    instead of allocating (and page-faulting) a new one for every part; once the source has ended, the
    buffers go to this process's spares for the next upload. A source that ends before, or runs past, its
    declared size fails before its last part is handed out.
    """

    def __init__(self, source: UploadSource, part_size: int) -> None:
        self._source = source
        self._part_size = part_size
        self._head, source.first_part = source.first_part, None  # taken, so the part is not held twice
        self._free: list[bytearray] = []  # append() and pop() are atomic: recycle() runs on pool threads
        self._done = 0
        self._ended = False

    def next_part(self) -> memoryview | None:
        """The next part, or None after the last one."""
        if self._head is not None:
            head, self._head = self._head, None
            return self._filled(head, len(head))
        size = self._source.size
        wanted = self._part_size if size is None else min(self._part_size, size - self._done)
        if self._ended or wanted <= 0:
            if size is not None and not self._ended and not self._source.at_end():
                raise ValueError(f"the source holds more than the {size} bytes it announced")
            self._end()
            return None
        buffer = self._free.pop() if self._free else _spare_parts.get(None, _SpareParts).take(self._part_size)
        count = self._source.read_into(memoryview(buffer)[:wanted])
        if size is not None and count < wanted:
            raise ValueError(f"the source ended after {self._done + count} of its {size} bytes")
        if count == 0:
            self._free.append(buffer)
            self._end()
            return None
        return self._filled(buffer, count)

    @property
    def total(self) -> int:
        """The bytes handed out so far: the object's size once the last part is read."""
        return self._done

    def recycle(self, part: memoryview) -> None:
        """Take back the buffer of a part that was sent (or never will be); never raises."""
        if isinstance(part.obj, bytearray):
            if self._ended:
                _spare_parts.get(None, _SpareParts).keep(part.obj)
            else:
                self._free.append(part.obj)

    def _end(self) -> None:
        """No part follows: the buffers not in use go to this process's spares (those in use, once sent)."""
        self._ended = True
        spares = _spare_parts.get(None, _SpareParts)
        while self._free:
            spares.keep(self._free.pop())

    def _filled(self, buffer: bytearray, count: int) -> memoryview:
        self._done += count
        if self._source.size is None and count < self._part_size:
            self._ended = True  # a short part of a stream of unknown length is its last
        return memoryview(buffer)[:count]


class _Inline(Executor):
    """Runs a task at once in the calling thread: used when an upload already runs on the shared pool,
    where waiting for parts queued behind the waiting task itself could deadlock the pool."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the future like a pool would
            future.set_exception(exc)
        return future


def _cancel_all(futures: list[Future[str]]) -> None:
    """Cancel parts not yet started and wait for the running ones, so no part outlives its upload."""
    for future in futures:
        future.cancel()
    wait(futures)
