"""Uploads: one streamed PUT, or multipart parts in parallel on the shared bounded pool.

Memory per upload stays under (MINIO_UPLOAD_WORKERS + 1) x part size whatever the file size: the
caller's thread reads a part only when a slot is free and hands it to the process-wide executor, so
no upload starts threads of its own. The first failure stops reading, pending parts are cancelled,
the multipart upload is aborted and the caller gets that failure's own exception.

Create-only writes send `If-None-Match: *` on the final request (PUT or CompleteMultipartUpload), so
of two concurrent saves of one name exactly one wins; the other is renamed and sent again. Some
servers check that condition on completion without a lock (SeaweedFS 4.48 let 2 to 8 of 8
concurrent completions of one key succeed), so completions of one name are also serialised inside
the process; across processes the server's own atomicity (MinIO's, S3's) is what protects.

A write whose answer was lost (a 5xx, or the connection gone after the whole request was sent) may have
been carried out, so it is never simply sent again: a final write first looks at what the name now holds
(the same ETag and size as this write: done; someone else's object under a create-only write: taken),
and a CreateMultipartUpload first aborts the uploads of that name the server began meanwhile.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal, TypeVar
from xml.sax.saxutils import escape

import urllib3
from django.core.files.base import File
from minio.error import S3Error

from .errors import DeadlineExceeded, is_not_found
from .executor import shared_executor
from .per_process import ForkSafeLock
from .s3http import Buffer, S3Connection, SourceError, error_from_xml
from .settings import MiB, MinioSettings
from .signing import UNSIGNED_PAYLOAD

__all__ = ["UploadSource", "Uploader", "Written"]

logger = logging.getLogger(__name__)

BLOCK: Final = 1 * MiB  # what a streamed PUT reads from the source at a time
MAX_PARTS: Final = 10_000
MAX_SINGLE_PUT: Final = 5 * 1024 * MiB  # S3 refuses larger single PUTs
MAX_RENAMES: Final = 100
EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()
TAKEN_CODES: Final = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
WORKER_PREFIX: Final = "minio-upload"  # thread name prefix of the shared executor
CLOCK_SLACK: Final = 2.0  # seconds either side of a lost CreateMultipartUpload (Initiated is in whole seconds)

_unconditional_endpoints: set[str] = set()  # servers that answered NotImplemented to If-None-Match
_unconditional_lock = ForkSafeLock()
# Striped locks for conditional completions: bounded memory, and two names rarely share a stripe. Fork-safe:
# a thread completing an upload while the process forks must not leave the child's stripe locked forever.
_completion_locks: Final = tuple(ForkSafeLock() for _ in range(64))


def _completion_lock(endpoint: str, bucket: str, name: str) -> ForkSafeLock:
    return _completion_locks[hash((endpoint, bucket, name)) % len(_completion_locks)]


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Written:
    """Where an upload ended up and the ETag the server gave the stored object."""

    name: str
    etag: str


class _NameTaken(Exception):
    """A create-only write found its name taken by someone else."""


class _AlreadyStored(Exception):
    """A write whose answer was lost turned out to be stored: `etag` is the stored object's."""

    def __init__(self, etag: str) -> None:
        super().__init__(etag)
        self.etag = etag


@dataclass(frozen=True, slots=True)
class _Expected:
    """What a final write stores: its size, and its ETag (None if unknowable), computed only once an answer
    was lost."""

    size: int
    etag: Callable[[], str | None]


@dataclass(frozen=True, slots=True)
class _CreateOnly:
    """A write that must not replace an existing object; `exists` answers for servers without conditional writes."""

    exists: Callable[[str], bool]


class UploadSource:
    """The caller's content: a binary or text stream, its length when knowable, and whether it can be re-read.

    Uploads start at the beginning of the stream (Django's `File.chunks()` does the same). Text is
    sent UTF-8 encoded; its encoded length is unknown until read. So is the length of a stream that
    cannot seek, whatever `File.size` says: Django reports 0 for a pipe, and a stored object must
    hold everything the source gives.
    """

    def __init__(self, content: Any) -> None:
        stream = content.file if isinstance(content, File) and content.file is not None else content
        if not callable(getattr(stream, "read", None)):
            raise TypeError(f"cannot upload {type(content).__name__}: it has no read()")
        self._stream = stream
        self._text = isinstance(stream, io.TextIOBase)
        self._pending = b""  # encoded text read beyond what was asked for
        self.seekable = _is_seekable(stream)
        if self.seekable:
            stream.seek(0)
        self.size = _stream_size(stream) if self.seekable and not self._text else None
        readinto = getattr(stream, "readinto", None)
        self._readinto: Callable[[memoryview], int | None] | None = (
            readinto if callable(readinto) and not self._text else None
        )

    def rewind(self) -> bool:
        """Go back to the start for another attempt; False when the stream cannot seek."""
        if not self.seekable:
            return False
        self._stream.seek(0)
        self._pending = b""
        return True

    def read_into(self, view: memoryview) -> int:
        """Fill `view` completely unless the stream ends first; returns the number of bytes written."""
        filled = 0
        wanted = len(view)
        while filled < wanted:
            count = self._read_some(view[filled:])
            if count == 0:
                break
            filled += count
        return filled

    def read_block(self, size: int) -> bytearray:
        """Up to `size` bytes (fewer only at the end of the stream), in one buffer."""
        block = bytearray(size)
        filled = self.read_into(memoryview(block))
        if filled < size:
            del block[filled:]
        return block

    def at_end(self) -> bool:
        return self._read_some(memoryview(bytearray(1))) == 0

    def _read_some(self, view: memoryview) -> int:
        if self._readinto is not None:
            count = self._readinto(view)
            if count is None:
                raise OSError("the source stream is non-blocking and has no data ready")
            return count
        if not self._pending:
            data = self._stream.read(max(len(view), 64 * 1024) if self._text else len(view))
            self._pending = data.encode() if isinstance(data, str) else bytes(data)
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def _is_seekable(stream: Any) -> bool:
    try:
        seekable = getattr(stream, "seekable", None)
        if callable(seekable):
            return bool(seekable())
        stream.tell()
    except (AttributeError, OSError, ValueError):
        return False
    return callable(getattr(stream, "seek", None))


def _stream_size(stream: Any) -> int:
    end = int(stream.seek(0, io.SEEK_END))
    stream.seek(0)
    return end


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


class Uploader:
    """Writes objects into one bucket with one alias's settings."""

    def __init__(self, settings: MinioSettings, bucket: str) -> None:
        self._settings = settings
        self._bucket = bucket
        self._connection = S3Connection(settings)

    @property
    def connection(self) -> S3Connection:
        """The signed-request connection, shared with the reads of the same storage."""
        return self._connection

    def upload(
        self,
        name: str,
        source: UploadSource,
        *,
        content_type: str,
        create_only: bool,
        rename: Callable[[str], str],
        exists: Callable[[str], bool],
    ) -> Written:
        """Store `source` under `name`; when create-only and the name is taken, store it under
        `rename(name)` instead (and so on). Returns the final name and the stored object's ETag.

        A create-only write is refused by the server when the name is taken, so a small body that can be
        sent again goes straight up; a larger or one-shot one first asks `exists(name)`, so a name taken
        beforehand costs no wasted upload. A server without conditional writes is asked `exists(name)`
        right before the final write too.
        """
        buffered, first = self._start(source)
        guard = _CreateOnly(exists) if create_only else None
        ask_first = guard is not None and buffered is None and not self._cheap_to_resend(source)
        for _ in range(MAX_RENAMES):
            if ask_first and exists(name):
                name = rename(name)
                continue
            try:
                if buffered is not None:
                    etag = self._put_buffer(name, buffered, content_type, guard)
                elif source.size is not None and not self._use_multipart(source.size):
                    etag = self._put_stream(name, source, source.size, content_type, guard)
                else:
                    etag = self._multipart(name, source, content_type, guard, first)
                return Written(name, etag)
            except _NameTaken:
                if buffered is None and not source.rewind():
                    raise FileExistsError(
                        f"{self._bucket}/{name} was created by someone else during this upload and the source "
                        "stream cannot be read again; nothing was overwritten"
                    ) from None
                name = rename(name)
        raise FileExistsError(f"no free name found for {self._bucket}/{name} after {MAX_RENAMES} attempts")

    def _start(self, source: UploadSource) -> tuple[bytearray | None, list[bytearray]]:
        """S3 needs a length up front: a stream of unknown length that fits in one part is read into memory
        and sent in one PUT (returned first); a longer one goes up in parts, starting with the part already
        read (returned in the list, which the multipart reader empties so the part is not held twice)."""
        if source.size is not None:
            return None, []
        part_size = self._settings.multipart_part_size
        head = source.read_block(part_size)
        if len(head) < part_size:
            return head, []
        return None, [head]

    def _cheap_to_resend(self, source: UploadSource) -> bool:
        """A re-readable source that goes up in one PUT of at most one part's size."""
        size = source.size
        return (
            source.seekable
            and size is not None
            and size <= self._settings.multipart_part_size
            and not self._use_multipart(size)
        )

    def _use_multipart(self, size: int) -> bool:
        settings = self._settings
        return size > MAX_SINGLE_PUT or (
            settings.multipart_upload and size >= settings.multipart_threshold and size > 0
        )

    # -- single PUT ----------------------------------------------------------------------------
    def _payload_hash(self, data: Buffer) -> str:
        """In-memory bodies are signed with their SHA-256 over plain HTTP, so the server rejects a corrupted
        one; TLS already guarantees integrity, so there the CPU is saved."""
        return UNSIGNED_PAYLOAD if self._settings.use_https else hashlib.sha256(data).hexdigest()

    def _put_buffer(self, name: str, data: bytearray, content_type: str, create_only: _CreateOnly | None) -> str:
        expected = _Expected(len(data), functools.cache(lambda: hashlib.md5(data, usedforsecurity=False).hexdigest()))
        return self._put(name, data, expected, self._payload_hash(data), content_type, create_only, can_resend=True)

    def _put_stream(
        self, name: str, source: UploadSource, size: int, content_type: str, create_only: _CreateOnly | None
    ) -> str:
        """One PUT streamed from the source in BLOCK-sized reads; sent again only if the source can seek."""
        started = False

        def body() -> Iterator[Buffer] | None:
            nonlocal started
            if started and not source.rewind():
                return None
            started = True
            return _exact_blocks(source, size)

        expected = _Expected(size, functools.cache(lambda: _md5_of(source)))
        return self._put(name, body, expected, UNSIGNED_PAYLOAD, content_type, create_only, can_resend=source.seekable)

    def _put(
        self,
        name: str,
        body: Buffer | Callable[[], Iterator[Buffer] | None],
        expected: _Expected,
        digest: str,
        content_type: str,
        create_only: _CreateOnly | None,
        *,
        can_resend: bool,
    ) -> str:
        """The single PUT, conditional when create-only; only an unconditional one may be repeated blindly."""

        def send(precondition: Mapping[str, str], settle: Callable[[], bool]) -> str:
            response = self._connection.request(
                "PUT",
                self._bucket,
                name,
                headers={"Content-Type": content_type, **precondition},
                body=body,
                length=expected.size,
                payload_sha256=digest,
                idempotent=not precondition,
                settle=settle,
            )
            return _etag(response)

        return self._final_write(name, create_only, send, expected, can_resend=can_resend)

    # -- multipart -----------------------------------------------------------------------------
    def _multipart(
        self,
        name: str,
        source: UploadSource,
        content_type: str,
        create_only: _CreateOnly | None,
        first: list[bytearray],
    ) -> str:
        parts = _PartReader(source, self._part_size(source.size), first.pop() if first else None)
        upload_id = self._create_upload(name, content_type)
        try:
            etags = self._send_parts(name, upload_id, parts)
            expected = _Expected(parts.total, functools.cache(lambda: _multipart_etag(etags)))
            return self._complete(name, upload_id, etags, expected, create_only)
        except BaseException:
            self._abort(name, upload_id)
            raise

    def _part_size(self, size: int | None) -> int:
        """The configured part size, grown for very large files so they fit in S3's 10,000 parts."""
        part_size = self._settings.multipart_part_size
        if size is not None and size > part_size * MAX_PARTS:
            needed = -(-size // MAX_PARTS)
            part_size = -(-needed // MiB) * MiB
        return part_size

    def _create_upload(self, name: str, content_type: str) -> str:
        started = time.time()
        response = self._connection.request(
            "POST",
            self._bucket,
            name,
            query=(("uploads", ""),),
            headers={"Content-Type": content_type},
            payload_sha256=EMPTY_SHA256,
            idempotent=False,  # a repeat after a lost answer would leave an orphaned upload behind ...
            settle=lambda: self._abort_begun(name, started),  # ... unless it is aborted first
        )
        upload_id = _xml(response, self._bucket, name).findtext("{*}UploadId")
        if not upload_id:
            raise OSError(f"The server returned no UploadId for {self._bucket}/{name}")
        return upload_id

    def _abort_begun(self, name: str, asked_at: float) -> bool:
        """Abort every upload of `name` the server began since `asked_at` (this process's clock, corrected by
        the server's Date): after a CreateMultipartUpload whose answer was lost, one of them may be ours, and
        nothing else would ever complete or abort it. False when the uploads could not be listed."""
        query = [("uploads", ""), ("prefix", name)]
        try:
            while True:
                response = self._connection.request("GET", self._bucket, query=query, payload_sha256=EMPTY_SHA256)
                skew = _server_clock(response) - time.time()
                earliest, latest = asked_at + skew - CLOCK_SLACK, time.time() + skew + CLOCK_SLACK
                listing = _xml(response, self._bucket, name)
                for upload in listing.iterfind("{*}Upload"):
                    upload_id = upload.findtext("{*}UploadId")
                    begun = _timestamp(upload.findtext("{*}Initiated"))
                    if upload.findtext("{*}Key") == name and upload_id and earliest <= begun <= latest:
                        logger.info(
                            "Aborting upload %s of %s/%s: its creation went unanswered", upload_id, self._bucket, name
                        )
                        self._abort(name, upload_id)
                key_marker, id_marker = listing.findtext("{*}NextKeyMarker"), listing.findtext("{*}NextUploadIdMarker")
                if listing.findtext("{*}IsTruncated") != "true" or key_marker != name or not id_marker:
                    return True  # the uploads of `name` are listed first: a later page holds longer keys
                query = [*query[:2], ("key-marker", key_marker), ("upload-id-marker", id_marker)]
        except Exception as error:  # noqa: BLE001 - the lost answer's own failure is what the caller gets
            logger.warning(
                "Could not look for an upload of %s/%s begun without an answer: %r", self._bucket, name, error
            )
            return False

    def _send_parts(self, name: str, upload_id: str, parts: _PartReader) -> list[str]:
        """Upload parts on the shared pool, reading the next one only when one of workers + 1 slots is free
        (so at most workers + 1 part buffers exist; a finished part's buffer takes the next part)."""
        workers = self._settings.upload_workers
        on_pool = threading.current_thread().name.startswith(WORKER_PREFIX)
        executor: Executor = _Inline() if on_pool else shared_executor(workers)
        slots = threading.BoundedSemaphore(workers + 1)
        lock = threading.Lock()
        failures: list[BaseException] = []
        futures: list[Future[str]] = []

        def finished(part: memoryview, future: Future[str]) -> None:
            parts.recycle(part)
            slots.release()
            error = None if future.cancelled() else future.exception()
            if error is not None:
                with lock:
                    failures.append(error)  # the first one appended is the first that happened

        try:
            number = 0
            while not failures:
                slots.acquire()
                try:
                    data = parts.next_part()
                except BaseException:
                    slots.release()
                    raise
                if data is None or failures:
                    slots.release()
                    break
                number += 1
                if number > MAX_PARTS:
                    slots.release()
                    raise ValueError(f"{self._bucket}/{name} needs more than {MAX_PARTS} parts; raise the part size")
                future = executor.submit(self._upload_part, name, upload_id, number, data)
                future.add_done_callback(functools.partial(finished, data))
                futures.append(future)
        except BaseException:
            _cancel_all(futures)
            raise
        if failures:
            _cancel_all(futures)
            raise failures[0]
        wait(futures)
        if failures:
            raise failures[0]
        return [future.result() for future in futures]

    def _upload_part(self, name: str, upload_id: str, number: int, data: memoryview) -> str:
        response = self._connection.request(
            "PUT",
            self._bucket,
            name,
            query=(("partNumber", str(number)), ("uploadId", upload_id)),
            body=data,
            payload_sha256=self._payload_hash(data),
        )
        etag = response.headers.get("ETag")
        if not etag:
            raise OSError(f"The server returned no ETag for part {number} of {self._bucket}/{name}")
        return str(etag)

    def _complete(
        self, name: str, upload_id: str, etags: list[str], expected: _Expected, create_only: _CreateOnly | None
    ) -> str:
        document = "".join(
            f"<Part><PartNumber>{number}</PartNumber><ETag>{escape(etag)}</ETag></Part>"
            for number, etag in enumerate(etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{document}</CompleteMultipartUpload>".encode()
        digest = hashlib.sha256(body).hexdigest()

        def send(precondition: Mapping[str, str], settle: Callable[[], bool]) -> str:
            response = self._connection.request(
                "POST",
                self._bucket,
                name,
                query=(("uploadId", upload_id),),
                headers={"Content-Type": "application/xml", **precondition},
                body=body,
                payload_sha256=digest,
                idempotent=False,
                settle=settle,
            )
            if b"<Error>" in response.data[:512]:  # S3 may report a failed completion with status 200
                raise error_from_xml(response, response.data, self._bucket, name)
            return (_xml(response, self._bucket, name).findtext("{*}ETag") or "").strip('"')

        if create_only is not None:
            with _completion_lock(self._connection.endpoint, self._bucket, name):
                return self._final_write(name, create_only, send, expected, can_resend=True)
        return self._final_write(name, None, send, expected, can_resend=True)

    def _abort(self, name: str, upload_id: str) -> None:
        """Best effort: a failed abort is logged, never raised over the error that caused it."""
        try:
            self._connection.request(
                "DELETE",
                self._bucket,
                name,
                query=(("uploadId", upload_id),),
                payload_sha256=EMPTY_SHA256,
            )
        except S3Error as error:
            if error.code != "NoSuchUpload":
                logger.warning("Could not abort multipart upload %s of %s/%s: %s", upload_id, self._bucket, name, error)
        except Exception as error:  # noqa: BLE001 - the caller's original error matters more
            logger.warning("Could not abort multipart upload %s of %s/%s: %r", upload_id, self._bucket, name, error)

    # -- the final write: create-only, and settled when its answer is lost -----------------------
    def _final_write(
        self,
        name: str,
        create_only: _CreateOnly | None,
        send: Callable[[Mapping[str, str], Callable[[], bool]], str],
        expected: _Expected,
        *,
        can_resend: bool,
    ) -> str:
        """Send the final write (the PUT or CompleteMultipartUpload) and return the stored object's ETag.

        When its answer is lost, the object stored under the name tells what happened before anything is
        sent again: ours (same ETag and size) ends the write; under create-only, someone else's moves it
        to another name. A later refusal or failure is checked the same way, since the lost attempt may
        have been carried out after all (a slow gateway)."""
        lost = _LostAnswer(self._stored, name, expected, create_only is not None)
        try:
            return self._conditional(
                name, create_only, lambda precondition: send(precondition, lost.settle), can_resend=can_resend
            )
        except _AlreadyStored as stored:
            return stored.etag
        except DeadlineExceeded:
            raise  # the budget is spent: no further request to find out
        except Exception:
            etag = lost.stored_etag() if lost.seen else None
            if etag is None:
                raise
            return etag

    def _stored(self, name: str) -> tuple[str, int] | None:
        """The ETag and size of the object stored under `name`, None when there is none."""
        try:
            response = self._connection.request("HEAD", self._bucket, name, payload_sha256=EMPTY_SHA256)
        except S3Error as error:
            if is_not_found(error):
                return None
            raise
        return _etag(response), int(response.headers.get("Content-Length", "-1"))

    def _conditional(
        self,
        name: str,
        create_only: _CreateOnly | None,
        send: Callable[[Mapping[str, str]], str],
        *,
        can_resend: bool,
    ) -> str:
        """Send the final write: with If-None-Match: * when create-only, or, to a server that does not
        support that, only after asking whether the name is taken (which two racing saves can both pass)."""
        if create_only is None:
            return send({})
        endpoint = self._connection.endpoint
        if endpoint not in _unconditional_endpoints:
            try:
                return send({"If-None-Match": "*"})
            except S3Error as error:
                if error.code in TAKEN_CODES:
                    raise _NameTaken from error
                if error.code != "NotImplemented":
                    raise
                _note_unconditional(endpoint, error)
                if not can_resend:
                    raise
        if create_only.exists(name):
            raise _NameTaken
        return send({})


class _LostAnswer:
    """Settles a final write whose answer was lost, from the object now stored under its name."""

    def __init__(
        self, stored: Callable[[str], tuple[str, int] | None], name: str, expected: _Expected, create_only: bool
    ) -> None:
        self._stored = stored  # ETag and size of what a name holds, None when nothing
        self._name = name
        self._expected = expected
        self._create_only = create_only
        self.seen = False  # an answer was lost: a later refusal may come from our own earlier attempt

    def settle(self) -> bool:
        """For `S3Connection.request`: raises _AlreadyStored when the write is found stored, _NameTaken when a
        create-only write finds someone else's object; True when sending again is safe (nothing stored, or
        an object a replacing write may overwrite); False when it cannot tell."""
        self.seen = True
        verdict, etag = self._look()
        if verdict == "ours":
            raise _AlreadyStored(etag)
        if verdict == "other" and self._create_only:
            raise _NameTaken
        return verdict != "unknown"

    def stored_etag(self) -> str | None:
        """The stored object's ETag when it is this write's, else None."""
        verdict, etag = self._look()
        return etag if verdict == "ours" else None

    def _look(self) -> tuple[Literal["absent", "ours", "other", "unknown"], str]:
        """What the name holds now, and its ETag; "unknown" when that cannot be found out, or when this write's
        own ETag cannot be known (the failure at hand then stands)."""
        try:
            found = self._stored(self._name)
            if found is None:
                return "absent", ""
            expected = self._expected.etag()
        except Exception as error:  # noqa: BLE001 - the lost answer's own failure is what the caller gets
            logger.warning("Could not check whether %s was stored after a lost answer: %r", self._name, error)
            return "unknown", ""
        etag, size = found
        if expected is None:
            return "unknown", etag
        return ("ours" if etag.lower() == expected.lower() and size == self._expected.size else "other"), etag


def _note_unconditional(endpoint: str, error: S3Error) -> None:
    with _unconditional_lock:
        if endpoint in _unconditional_endpoints:
            return
        _unconditional_endpoints.add(endpoint)
    logger.warning(
        "%s does not support conditional writes (If-None-Match: %s); create-only saves fall back to "
        "checking the name before writing, which two concurrent saves of one name can both pass",
        endpoint,
        error.message,
    )


def _exact_blocks(source: UploadSource, size: int) -> Iterator[Buffer]:
    """Exactly `size` bytes in BLOCK pieces from one reused buffer; a source that is shorter or longer
    than announced fails before its last byte is sent, so the server never stores a truncated object."""
    buffer = bytearray(min(size, BLOCK))
    view = memoryview(buffer)
    remaining = size
    while remaining:
        try:
            count = source.read_into(view[: min(remaining, len(buffer))])
            if count == 0:
                raise ValueError(f"the source ended after {size - remaining} of its {size} bytes")
            remaining -= count
            if not remaining and not source.at_end():
                raise ValueError(f"the source holds more than the {size} bytes it announced")
        except Exception as exc:
            raise SourceError(exc) from exc
        yield view[:count]


class _PartReader:
    """Reads the source part by part into reused buffers, `head` (a part already read) first.

    A buffer is handed back with `recycle()` once its part is sent, and reused for a later part
    instead of allocating (and page-faulting) a new one for every part. A source that ends before,
    or runs past, its declared size fails before its last part is handed out.
    """

    def __init__(self, source: UploadSource, part_size: int, head: bytearray | None) -> None:
        self._source = source
        self._part_size = part_size
        self._head = head
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
            self._ended = True
            return None
        buffer = self._free.pop() if self._free else bytearray(self._part_size)
        count = self._source.read_into(memoryview(buffer)[:wanted])
        if size is not None and count < wanted:
            raise ValueError(f"the source ended after {self._done + count} of its {size} bytes")
        if count == 0:
            self._ended = True
            self._free.append(buffer)
            return None
        return self._filled(buffer, count)

    @property
    def total(self) -> int:
        """The bytes handed out so far: the object's size once the last part is read."""
        return self._done

    def recycle(self, part: memoryview) -> None:
        """Take back the buffer of a part that was sent (or never will be); never raises."""
        if isinstance(part.obj, bytearray):
            self._free.append(part.obj)

    def _filled(self, buffer: bytearray, count: int) -> memoryview:
        self._done += count
        if self._source.size is None and count < self._part_size:
            self._ended = True  # a short part of a stream of unknown length is its last
        return memoryview(buffer)[:count]


def _cancel_all(futures: list[Future[str]]) -> None:
    """Cancel parts not yet started and wait for the running ones, so no part outlives its upload."""
    for future in futures:
        future.cancel()
    wait(futures)


def _etag(response: urllib3.BaseHTTPResponse) -> str:
    return str(response.headers.get("ETag") or "").strip('"')


def _xml(response: urllib3.BaseHTTPResponse, bucket: str, name: str) -> ET.Element:
    """The XML document of a 2xx answer; anything else (a proxy's HTML page, a cut-off body) is an OSError."""
    try:
        return ET.fromstring(response.data)
    except ET.ParseError as error:
        raise OSError(
            f"The server's answer for {bucket}/{name} is not XML ({error}): {response.data[:200]!r}"
        ) from error


def _md5_of(source: UploadSource) -> str | None:
    """MD5 of the whole source, read again from the start (None when it cannot be): the ETag of a single PUT."""
    if not source.rewind():
        return None
    digest = hashlib.md5(usedforsecurity=False)
    view = memoryview(bytearray(BLOCK))
    while count := source.read_into(view):
        digest.update(view[:count])
    return digest.hexdigest()


def _multipart_etag(etags: list[str]) -> str | None:
    """S3's ETag of a completed multipart upload: MD5 of the parts' binary MD5s, "-", the number of parts."""
    try:
        digests = b"".join(bytes.fromhex(etag.strip('"')) for etag in etags)
    except ValueError:
        return None  # a part ETag that is not an MD5 (e.g. under server-side encryption)
    if len(digests) != 16 * len(etags):
        return None
    return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(etags)}"


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
