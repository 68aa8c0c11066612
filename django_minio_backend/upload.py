"""Writing one object: one streamed PUT or a multipart upload, replacing or create-only, settled when an answer is lost.

Create-only writes send `If-None-Match: *` on the final request (PUT or CompleteMultipartUpload), so
of two concurrent saves of one name exactly one wins; the other is told the name is taken. Some
servers check that condition on completion without a lock (SeaweedFS 4.48 let 2 to 8 of 8
concurrent completions of one key succeed), so completions of one name are also serialised inside
the process; across processes the server's own atomicity (MinIO's, S3's) is what protects.

A write whose answer was lost (a 5xx, or the connection gone after the whole request was sent) may have
been carried out, so it is never simply sent again: a final write first looks at what the name now holds
(the same ETag and size as this write: done; someone else's object under a create-only write: taken).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Final, Literal

import urllib3
from minio.error import S3Error

from .connection import Buffer, S3Connection
from .errors import DeadlineExceeded, is_not_found
from .multipart import MultipartUpload, multipart_etag
from .parts import MAX_PARTS, PartReader
from .per_process import ForkSafeLock
from .settings import MiB, MinioSettings
from .signing import EMPTY_SHA256, UNSIGNED_PAYLOAD
from .source import UploadSource

__all__ = ["MAX_SINGLE_PUT", "TAKEN_CODES", "Uploader", "WriteMode", "part_size_for"]

logger = logging.getLogger(__name__)

MAX_SINGLE_PUT: Final = 5 * 1024 * MiB  # S3 refuses larger single PUTs
TAKEN_CODES: Final = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})

_unconditional_endpoints: set[str] = set()  # servers that answered NotImplemented to If-None-Match
_unconditional_lock = ForkSafeLock()
# Striped locks for conditional completions: bounded memory, and two names rarely share a stripe. Fork-safe:
# a thread completing an upload while the process forks must not leave the child's stripe locked forever.
_completion_locks: Final = tuple(ForkSafeLock() for _ in range(64))


def part_size_for(configured: int, size: int | None) -> int:
    """The configured part size, grown (in whole MiB) for very large files so they fit in S3's 10,000 parts."""
    if size is not None and size > configured * MAX_PARTS:
        needed = -(-size // MAX_PARTS)
        return -(-needed // MiB) * MiB
    return configured


def _completion_lock(endpoint: str, bucket: str, name: str) -> ForkSafeLock:
    return _completion_locks[hash((endpoint, bucket, name)) % len(_completion_locks)]


class WriteMode(enum.Enum):
    """What a write may do to an object already stored under its name."""

    REPLACE = "replace"  # overwrite it, in one write
    CREATE_ONLY = "create-only"  # never: the write answers that the name is taken


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


# The final request of a write: sent with these extra headers (the precondition) and the `settle` of
# S3Connection.request, it returns the stored object's ETag.
_Send = Callable[[Mapping[str, str], Callable[[], bool]], str]


class Uploader:
    """Writes objects into one bucket with one alias's settings, over the storage's connection."""

    def __init__(self, settings: MinioSettings, bucket: str, connection: S3Connection) -> None:
        self._settings = settings
        self._bucket = bucket
        self._connection = connection

    def upload(
        self,
        name: str,
        source: UploadSource,
        *,
        content_type: str,
        mode: WriteMode,
        headers: Mapping[str, str] | None = None,
    ) -> str | None:
        """Store `source` under `name` and return the stored object's ETag; None when a CREATE_ONLY write
        finds the name taken (nothing was overwritten, and `source` can be stored under another name).
        `headers` (object headers such as Cache-Control and x-amz-meta-*) go on the PUT or the multipart start.

        A create-only write is refused by the server when the name is taken, so a small body that can be sent
        again goes straight up; a larger or one-shot one is preceded by a HEAD, so a name taken beforehand costs
        no wasted upload. A server without conditional writes gets that HEAD right before the final write too.
        A name taken during the upload of a stream that cannot be read again raises FileExistsError.
        """
        source.read_ahead(self._settings.multipart_part_size)
        in_memory = source.in_memory
        costly = in_memory is None and not self._cheap_to_resend(source)
        if mode is WriteMode.CREATE_ONLY and costly and self.stored(name) is not None:
            return None
        stored = {"Content-Type": content_type, **(headers or {})}
        try:
            if in_memory is not None:
                return self._put_buffer(name, in_memory, stored, mode)
            if source.size is not None and not self._use_multipart(source.size):
                return self._put_stream(name, source, source.size, stored, mode)
            return self._multipart(name, source, stored, mode)
        except _NameTaken:
            if in_memory is None and not source.rewind():
                raise FileExistsError(
                    f"{self._bucket}/{name} was created by someone else during this upload and the source "
                    "stream cannot be read again; nothing was overwritten"
                ) from None
            return None

    # -- the pieces of a write whose size is known only at its end (writer.py) -------------------
    def put(self, name: str, data: bytearray, *, headers: Mapping[str, str], mode: WriteMode) -> str | None:
        """Store `data` in one PUT with `headers` (Content-Type included) and return its ETag; None when a
        CREATE_ONLY write finds the name taken."""
        try:
            return self._put_buffer(name, data, headers, mode)
        except _NameTaken:
            return None

    def begin(self, name: str, headers: Mapping[str, str]) -> MultipartUpload:
        """Begin a multipart upload of `name` with `headers` (Content-Type included), to be finished by complete()
        or aborted."""
        return MultipartUpload.begin(self._connection, self._bucket, name, headers["Content-Type"], headers=headers)

    def complete(self, name: str, upload: MultipartUpload, etags: list[str], size: int, mode: WriteMode) -> str | None:
        """Complete `upload` of `name`, whose parts (`etags`, `size` bytes in all) are sent, like every final
        write; its ETag, or None when a CREATE_ONLY write finds the name taken (the caller aborts the upload)."""
        try:
            return self._complete(name, upload, etags, size, mode)
        except _NameTaken:
            return None

    # -- a final write built by the caller (the server-side copy of a staged direct upload) ---------
    def write_once(
        self, name: str, send: Callable[[Mapping[str, str]], str], *, mode: WriteMode, can_resend: bool
    ) -> str | None:
        """Send a final write of `name` that the caller builds: `send` gets the precondition headers to add and
        returns the stored object's ETag. Create-only as every write here (If-None-Match: *, or a HEAD first on a
        server remembered to lack it); None when a CREATE_ONLY write finds the name taken."""
        try:
            return self._conditional(name, mode, send, can_resend=can_resend)
        except _NameTaken:
            return None

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

    def _part_size(self, size: int | None) -> int:
        """The configured part size, grown for very large files (`part_size_for`)."""
        return part_size_for(self._settings.multipart_part_size, size)

    # -- the two ways up -------------------------------------------------------------------------
    def _put_buffer(self, name: str, data: bytearray, headers: Mapping[str, str], mode: WriteMode) -> str:
        expected = _Expected(len(data), functools.cache(lambda: hashlib.md5(data, usedforsecurity=False).hexdigest()))
        checksum = self._connection.body_checksum(data)
        return self._put(name, data, expected, checksum, headers, mode, can_resend=True)

    def _put_stream(
        self, name: str, source: UploadSource, size: int, headers: Mapping[str, str], mode: WriteMode
    ) -> str:
        """One PUT streamed from the source in BLOCK-sized reads; sent again only if the source can seek."""
        started = False

        def body() -> Iterator[Buffer] | None:
            nonlocal started
            if started and not source.rewind():
                return None
            started = True
            return source.exact_blocks(size)

        expected = _Expected(size, functools.cache(source.md5))
        return self._put(name, body, expected, {}, headers, mode, can_resend=source.seekable)

    def _put(
        self,
        name: str,
        body: Buffer | Callable[[], Iterator[Buffer] | None],
        expected: _Expected,
        checksum: Mapping[str, str],
        headers: Mapping[str, str],
        mode: WriteMode,
        *,
        can_resend: bool,
    ) -> str:
        """The single PUT, conditional when create-only; only an unconditional one may be repeated blindly. The body
        is never hashed for the signature; `checksum` (`S3Connection.body_checksum`) has the server check it."""

        def send(precondition: Mapping[str, str], settle: Callable[[], bool]) -> str:
            response = self._connection.request(
                "PUT",
                self._bucket,
                name,
                headers={**headers, **checksum, **precondition},
                body=body,
                length=expected.size,
                payload_sha256=UNSIGNED_PAYLOAD,
                idempotent=not precondition,
                settle=settle,
            )
            return _etag(response)

        return self._final_write(name, mode, send, expected, can_resend=can_resend)

    def _multipart(self, name: str, source: UploadSource, headers: Mapping[str, str], mode: WriteMode) -> str:
        parts = PartReader(source, self._part_size(source.size))
        upload = MultipartUpload.begin(self._connection, self._bucket, name, headers["Content-Type"], headers=headers)
        try:
            etags = upload.send_parts(parts, self._settings.upload_workers)
            return self._complete(name, upload, etags, parts.total, mode)
        except BaseException:
            upload.abort()
            raise

    def _complete(self, name: str, upload: MultipartUpload, etags: list[str], size: int, mode: WriteMode) -> str:
        expected = _Expected(size, functools.cache(lambda: multipart_etag(etags)))
        complete = functools.partial(upload.complete, etags)
        with self._completing(name, mode):
            return self._final_write(name, mode, complete, expected, can_resend=True)

    def _completing(self, name: str, mode: WriteMode) -> AbstractContextManager[object]:
        """Create-only completions of one name take turns in this process (see the module docstring)."""
        if mode is WriteMode.REPLACE:
            return nullcontext()
        return _completion_lock(self._connection.endpoint, self._bucket, name)

    # -- the final write: create-only, and settled when its answer is lost -----------------------
    def _final_write(self, name: str, mode: WriteMode, send: _Send, expected: _Expected, *, can_resend: bool) -> str:
        """Send the final write (the PUT or CompleteMultipartUpload) and return the stored object's ETag.

        When its answer is lost, the object stored under the name tells what happened before anything is
        sent again: ours (same ETag and size) ends the write; under create-only, someone else's means the
        name is taken. A later refusal or failure is checked the same way, since the lost attempt may
        have been carried out after all (a slow gateway)."""
        lost = _LostAnswer(self.stored, name, expected, mode)
        try:
            return self._conditional(
                name, mode, lambda precondition: send(precondition, lost.settle), can_resend=can_resend
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

    def stored(self, name: str) -> tuple[str, int] | None:
        """The ETag and size of the object stored under `name` (one HEAD), None when there is none."""
        try:
            response = self._connection.request("HEAD", self._bucket, name, payload_sha256=EMPTY_SHA256)
        except S3Error as error:
            if is_not_found(error):
                return None
            raise
        return _etag(response), int(response.headers.get("Content-Length", "-1"))

    def _conditional(
        self, name: str, mode: WriteMode, send: Callable[[Mapping[str, str]], str], *, can_resend: bool
    ) -> str:
        """Send the final write: with If-None-Match: * when create-only, or, to a server that does not
        support that, only after a HEAD found the name free (which two racing saves can both pass)."""
        if mode is WriteMode.REPLACE:
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
        if self.stored(name) is not None:
            raise _NameTaken
        return send({})


class _LostAnswer:
    """Settles a final write whose answer was lost, from the object now stored under its name."""

    def __init__(
        self, stored: Callable[[str], tuple[str, int] | None], name: str, expected: _Expected, mode: WriteMode
    ) -> None:
        self._stored = stored  # ETag and size of what a name holds, None when nothing
        self._name = name
        self._expected = expected
        self._mode = mode
        self.seen = False  # an answer was lost: a later refusal may come from our own earlier attempt

    def settle(self) -> bool:
        """For `S3Connection.request`: raises _AlreadyStored when the write is found stored, _NameTaken when a
        create-only write finds someone else's object; True when sending again is safe (nothing stored, or
        an object a replacing write may overwrite); False when it cannot tell."""
        self.seen = True
        verdict, etag = self._look()
        if verdict == "ours":
            raise _AlreadyStored(etag)
        if verdict == "other" and self._mode is WriteMode.CREATE_ONLY:
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


def _etag(response: urllib3.BaseHTTPResponse) -> str:
    return str(response.headers.get("ETag") or "").strip('"')
