"""Multipart uploads: parts read from the source and sent in parallel on the shared pool, then completed or aborted.

Memory per upload stays under (MINIO_UPLOAD_WORKERS + 1) x part size whatever the file size: the
caller's thread reads a part only when a slot is free and hands it to the process-wide executor, so
no upload starts threads of its own. The first failure stops reading, pending parts are cancelled,
and the caller (upload.py) aborts the upload and gets that failure's own exception.

A CreateMultipartUpload whose answer was lost may have begun an upload on the server that nothing
would ever complete, so before it is sent again the uploads of that name begun meanwhile are aborted.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, wait
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, NoReturn, TypeVar
from xml.sax.saxutils import escape

import urllib3
from minio.error import S3Error

from .connection import CHECKSUM_HEADER, S3Connection, error_from_xml
from .executor import on_shared_pool, shared_executor
from .per_process import PerProcess
from .signing import EMPTY_SHA256, UNSIGNED_PAYLOAD
from .source import UploadSource

__all__ = ["MAX_PARTS", "MultipartUpload", "PartReader", "PartSender", "multipart_etag"]

logger = logging.getLogger(__name__)

MAX_PARTS: Final = 10_000
SPARE_BYTES: Final = 64 * 1024 * 1024  # part buffers a process keeps between uploads (see _SpareParts)
CLOCK_SLACK: Final = 2.0  # seconds either side of a lost CreateMultipartUpload (Initiated is in whole seconds)

T = TypeVar("T")


class MultipartUpload:
    """One multipart upload of one object: begun, its parts sent, then completed or aborted."""

    def __init__(self, connection: S3Connection, bucket: str, name: str, upload_id: str) -> None:
        self._connection = connection
        self._bucket = bucket
        self._name = name
        self.upload_id = upload_id
        self._checksums: dict[int, str] = {}  # part number -> the checksum it was sent with, for the completion

    @classmethod
    def begin(
        cls,
        connection: S3Connection,
        bucket: str,
        name: str,
        content_type: str,
        *,
        headers: Mapping[str, str] | None = None,
        checksums: bool = True,
    ) -> MultipartUpload:
        """CreateMultipartUpload (the object's headers go on it); after a lost answer, uploads of the name begun
        meanwhile are aborted first. `checksums` announces that every part carries its CRC32 (over plain HTTP);
        parts this process does not send (a browser's, a server-side copy's) carry none, so they begin without."""
        started = time.time()
        response = connection.request(
            "POST",
            bucket,
            name,
            query=(("uploads", ""),),
            headers={
                **(headers or {}),
                "Content-Type": content_type,
                **(connection.multipart_checksum() if checksums else {}),
            },
            payload_sha256=EMPTY_SHA256,
            idempotent=False,  # a repeat after a lost answer would leave an orphaned upload behind ...
            settle=lambda: _abort_begun(connection, bucket, name, started),  # ... unless it is aborted first
        )
        upload_id = _xml(response, bucket, name).findtext("{*}UploadId")
        if not upload_id:
            raise OSError(f"The server returned no UploadId for {bucket}/{name}")
        return cls(connection, bucket, name, upload_id)

    def send_parts(self, parts: PartReader, workers: int) -> list[str]:
        """Upload parts on the shared pool, reading the next one only when one of workers + 1 slots is free
        (so at most workers + 1 part buffers exist; a finished part's buffer takes the next part). Returns
        the parts' ETags in order."""
        sender = self.sender(workers, parts.recycle)
        try:
            while True:
                sender.reserve()
                try:
                    data = parts.next_part()
                except BaseException:
                    sender.unreserve()
                    raise
                if data is None:
                    sender.unreserve()
                    return sender.finish()
                sender.send(data)
        except BaseException:
            sender.cancel()
            raise

    def sender(self, workers: int, recycle: Callable[[memoryview], None]) -> PartSender:
        """A PartSender for this upload's parts; `recycle` takes back each part's buffer once it is sent."""
        return PartSender(self._send_part, f"{self._bucket}/{self._name}", workers, recycle)

    def _send_part(self, number: int, data: memoryview) -> str:
        checksum = self._connection.body_checksum(data)
        response = self._connection.request(
            "PUT",
            self._bucket,
            self._name,
            query=(("partNumber", str(number)), ("uploadId", self.upload_id)),
            headers=checksum,
            body=data,
            payload_sha256=UNSIGNED_PAYLOAD,
        )
        if checksum:
            self._checksums[number] = checksum[CHECKSUM_HEADER]
        etag = response.headers.get("ETag")
        if not etag:
            raise OSError(f"The server returned no ETag for part {number} of {self._bucket}/{self._name}")
        return str(etag)

    def complete(self, etags: list[str], precondition: Mapping[str, str], settle: Callable[[], bool]) -> str:
        """CompleteMultipartUpload, sent once (`settle` as for `S3Connection.request`); the stored object's ETag."""
        document = "".join(
            f"<Part><PartNumber>{number}</PartNumber><ETag>{escape(etag)}</ETag>{self._checksum_element(number)}</Part>"
            for number, etag in enumerate(etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{document}</CompleteMultipartUpload>".encode()
        response = self._connection.request(
            "POST",
            self._bucket,
            self._name,
            query=(("uploadId", self.upload_id),),
            headers={"Content-Type": "application/xml", **precondition},
            body=body,
            payload_sha256=hashlib.sha256(body).hexdigest(),
            idempotent=False,
            settle=settle,
        )
        if b"<Error>" in response.data[:512]:  # S3 may report a failed completion with status 200
            raise error_from_xml(response, response.data, self._bucket, self._name)
        return (_xml(response, self._bucket, self._name).findtext("{*}ETag") or "").strip('"')

    def _checksum_element(self, number: int) -> str:
        """A part's checksum, which S3 wants back on completion when the upload announced checksums."""
        checksum = self._checksums.get(number)
        return f"<ChecksumCRC32>{checksum}</ChecksumCRC32>" if checksum else ""

    def abort(self) -> None:
        """Best effort: a failed abort is logged, never raised over the error that caused it."""
        _abort(self._connection, self._bucket, self._name, self.upload_id)


def _abort(connection: S3Connection, bucket: str, name: str, upload_id: str) -> None:
    try:
        connection.request("DELETE", bucket, name, query=(("uploadId", upload_id),), payload_sha256=EMPTY_SHA256)
    except S3Error as error:
        if error.code != "NoSuchUpload":
            logger.warning("Could not abort multipart upload %s of %s/%s: %s", upload_id, bucket, name, error)
    except Exception as error:  # noqa: BLE001 - the caller's original error matters more
        logger.warning("Could not abort multipart upload %s of %s/%s: %r", upload_id, bucket, name, error)


def _abort_begun(connection: S3Connection, bucket: str, name: str, asked_at: float) -> bool:
    """Abort every upload of `name` the server began since `asked_at` (this process's clock, corrected by
    the server's Date): after a CreateMultipartUpload whose answer was lost, one of them may be ours, and
    nothing else would ever complete or abort it. False when the uploads could not be listed."""
    query = [("uploads", ""), ("prefix", name)]
    try:
        while True:
            response = connection.request("GET", bucket, query=query, payload_sha256=EMPTY_SHA256)
            skew = _server_clock(response) - time.time()
            earliest, latest = asked_at + skew - CLOCK_SLACK, time.time() + skew + CLOCK_SLACK
            listing = _xml(response, bucket, name)
            for upload in listing.iterfind("{*}Upload"):
                upload_id = upload.findtext("{*}UploadId")
                begun = _timestamp(upload.findtext("{*}Initiated"))
                if upload.findtext("{*}Key") == name and upload_id and earliest <= begun <= latest:
                    logger.info("Aborting upload %s of %s/%s: its creation went unanswered", upload_id, bucket, name)
                    _abort(connection, bucket, name, upload_id)
            key_marker, id_marker = listing.findtext("{*}NextKeyMarker"), listing.findtext("{*}NextUploadIdMarker")
            if listing.findtext("{*}IsTruncated") != "true" or key_marker != name or not id_marker:
                return True  # the uploads of `name` are listed first: a later page holds longer keys
            query = [*query[:2], ("key-marker", key_marker), ("upload-id-marker", id_marker)]
    except Exception as error:  # noqa: BLE001 - the lost answer's own failure is what the caller gets
        logger.warning("Could not look for an upload of %s/%s begun without an answer: %r", bucket, name, error)
        return False


class PartSender:
    """Sends the parts it is handed, numbered in order, on the shared pool (looked up when it is made), with at
    most workers + 1 slots: the caller reserves one before it fills a part's buffer, and the slot is free again
    once that part is sent, so a writer holds at most workers + 1 part buffers. The first failure stops it: the
    next `reserve()`, `send()` or `finish()` raises it (a failure a pool thread has seen is its own exception)."""

    def __init__(
        self,
        send_part: Callable[[int, memoryview], str],
        label: str,
        workers: int,
        recycle: Callable[[memoryview], None],
    ) -> None:
        self._send_part = send_part
        self._label = label
        self._executor: Executor = _Inline() if on_shared_pool() else shared_executor(workers)
        self._slots = threading.BoundedSemaphore(workers + 1)
        self._recycle = recycle
        self._lock = threading.Lock()
        self._failures: list[BaseException] = []  # the first one appended is the first that happened
        self._futures: list[Future[str]] = []

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
        future = self._executor.submit(self._send_part, len(self._futures) + 1, data)
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


def multipart_etag(etags: list[str]) -> str | None:
    """S3's ETag of a completed multipart upload: MD5 of the parts' binary MD5s, "-", the number of parts."""
    try:
        digests = b"".join(bytes.fromhex(etag.strip('"')) for etag in etags)
    except ValueError:
        return None  # a part ETag that is not an MD5 (e.g. under server-side encryption)
    if len(digests) != 16 * len(etags):
        return None
    return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(etags)}"


def _xml(response: urllib3.BaseHTTPResponse, bucket: str, name: str) -> ET.Element:
    """The XML document of a 2xx answer; anything else (a proxy's HTML page, a cut-off body) is an OSError."""
    try:
        return ET.fromstring(response.data)
    except ET.ParseError as error:
        raise OSError(
            f"The server's answer for {bucket}/{name} is not XML ({error}): {response.data[:200]!r}"
        ) from error


def _server_clock(response: urllib3.BaseHTTPResponse) -> float:
    """The server's time from its Date header (this process's clock when it sent none)."""
    try:
        return parsedate_to_datetime(response.headers.get("Date", "")).timestamp()
    except (TypeError, ValueError):
        return time.time()


def _timestamp(text: str | None) -> float:
    """An ISO 8601 time as S3 lists it (UTC "Z" or an offset); NaN, which no range holds, when unreadable."""
    try:
        return datetime.fromisoformat(text or "").timestamp()
    except ValueError:
        return float("nan")
