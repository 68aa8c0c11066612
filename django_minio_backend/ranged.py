"""The raw reader behind `storage.open()`: seekable, fetching byte ranges of one object version on demand.

open() asks for the first FIRST_RANGE bytes (128 KiB), as does any read from byte 0: reading a file's
header, such as an image's dimensions, costs that much even of a 10 GB object. A read that wants more
than that range holds asks for the range after it at once. Reading on in order keeps using the open
response; past its end, ranges of a few chunks follow, each twice the one before up to a bound (a long
read costs few requests), each asked for on the shared pool while the one before is read, so the server
is already sending it when it is needed. A seek elsewhere just moves the position. Bytes go from the
socket straight into the caller's buffer; memory is a 64 KiB buffer plus what the caller asks for
(a range asked for ahead waits in the socket's buffer, not ours). Every GET carries the ETag seen at
open() in If-Match, so a file replaced while being read fails instead of mixing two versions.
"""

from __future__ import annotations

import http.client
import io
import logging
from concurrent.futures import Future
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Final

import urllib3
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from .connection import ATTEMPTS, S3Connection
from .errors import DeadlineExceeded, is_not_found
from .executor import shared_executor
from .pool import idle, receiving
from .signing import UNSIGNED_PAYLOAD

__all__ = [
    "FIRST_RANGE",
    "READ_AHEAD_CHUNKS",
    "READ_AHEAD_MAX_CHUNKS",
    "READ_BUFFER",
    "ObjectChangedError",
    "RangedReader",
]

logger = logging.getLogger(__name__)

MAX_SPAN: Final = 1 << 30  # a single GET never asks for more than this
# The range of open() and of any read from byte 0 (or one chunk, if smaller): headers (an image's dimensions, a file
# type's magic) are in it, and a file closed after reading 64 KiB of them leaves little unread (up to DRAIN_LIMIT
# is read out to keep the connection).
FIRST_RANGE: Final = 128 * 1024
READ_AHEAD_CHUNKS: Final = 16  # reading on in order: ranges of this many chunks, each asked for ahead
READ_AHEAD_MAX_CHUNKS: Final = 256  # ... doubling from one range to the next up to this many (and MAX_SPAN)
# BufferedReader's buffer: small reads (lines, FileResponse's 4 KiB blocks) are served from it, while reads
# of a multiple of it go straight into the caller's result, received from the socket with no copy in between.
READ_BUFFER: Final = 64 * 1024
DRAIN_LIMIT: Final = 64 * 1024  # leaving a response early: read out at most this much to keep the connection
# Each read from a response takes at most this much, and must get it within MINIO_REQUEST_DEADLINE: a body that
# keeps arriving is never cut off, one trickling in a few bytes at a time is.
PROGRESS_UNIT: Final = 256 * 1024


class ObjectChangedError(OSError):
    """The object was replaced or deleted while it was being read."""


class RangedReader(io.RawIOBase):
    """A raw, seekable reader over one object version, fetching HTTP ranges as it goes."""

    def __init__(
        self,
        connection: S3Connection,
        bucket: str,
        key: str,
        *,
        size: int,
        etag: str,
        chunk_size: int,
        read_ahead_workers: int = 0,
    ) -> None:
        super().__init__()
        self._connection = connection
        self._bucket = bucket
        self._key = key
        self._size = size
        self._etag = etag
        self._chunk_size = chunk_size
        self._first_range = min(chunk_size, FIRST_RANGE)  # the range of open() and of any read from byte 0
        self._read_ahead_workers = read_ahead_workers  # size of the shared pool that asks ahead; 0: never ahead
        self._position = 0
        self._response: urllib3.BaseHTTPResponse | None = None
        self._response_at = 0  # position of the next byte the open response will give
        self._range = (0, 0)  # the last range asked for, [start, end)
        self._ahead: _Ahead | None = None
        self._span = chunk_size * READ_AHEAD_CHUNKS  # the size of the next range read in order

    @classmethod
    def open(
        cls, connection: S3Connection, bucket: str, key: str, *, chunk_size: int, read_ahead_workers: int = 0
    ) -> RangedReader:
        """Ask for the first range at once: one GET tells whether the object exists, its size and its version,
        and its body is what the first read needs (the body is read only when the caller reads)."""
        first = min(chunk_size, FIRST_RANGE)  # the reader's _first_range
        try:
            response = connection.request(
                "GET",
                bucket,
                key,
                headers={"Range": f"bytes=0-{first - 1}"},
                payload_sha256=UNSIGNED_PAYLOAD,
                stream=True,
            )
        except S3Error as error:
            if is_not_found(error):
                raise FileNotFoundError(f"{bucket}/{key} does not exist") from error
            if error.response is not None and error.response.status == 416:  # only an empty object has no byte 0
                return cls(connection, bucket, key, size=0, etag="*", chunk_size=chunk_size)  # nothing to read ahead
            raise
        idle(response)  # the deadline counts the body's reads, not the time until the caller reads
        total = _total_size(response)
        etag = response.headers.get("ETag") or "*"
        reader = cls(
            connection, bucket, key, size=total, etag=etag, chunk_size=chunk_size, read_ahead_workers=read_ahead_workers
        )
        reader._response = response
        reader._range = (0, min(total, first) if response.status == 206 else total)
        return reader

    @property
    def size(self) -> int:
        return self._size

    def reopen(self) -> RangedReader:
        """A fresh reader over the same object version."""
        return RangedReader(
            self._connection,
            self._bucket,
            self._key,
            size=self._size,
            etag=self._etag,
            chunk_size=self._chunk_size,
            read_ahead_workers=self._read_ahead_workers,
        )

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        self._check_open()
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._position)
        if wanted <= 0:
            return 0
        for attempt in range(ATTEMPTS):
            response = self._response_for(self._position, wanted)
            start, end = self._range
            if start == 0 and self._ahead is None and end < self._size and self._position + wanted > end:
                self._ask_ahead(end)  # this read wants more than the first range holds: the rest is likely to follow
            try:
                with receiving(response) as pieces:
                    count = _receive(response, view[: min(wanted, self._range[1] - self._position)], pieces)
            except DeadlineExceeded:
                self._drop_response()
                raise
            except (HTTPError, HTTPException, OSError) as exc:
                self._drop_response()
                if attempt + 1 == ATTEMPTS:
                    raise
                logger.info(
                    "Reading %s/%s at %d failed (%r); fetching again", self._bucket, self._key, self._position, exc
                )
                continue
            if not count:  # the server ended the range early
                self._drop_response()
                continue
            self._position += count
            self._response_at += count
            if self._response_at >= end:
                self._release_response()
            return count
        raise OSError(f"{self._bucket}/{self._key}: the server kept ending ranges early at {self._position}")

    def readall(self) -> bytes:
        """The rest of the object in one buffer (what the caller asked for), read in large ranges."""
        remaining = max(0, self._size - self.tell())
        result = bytearray(remaining)
        view = memoryview(result)
        filled = 0
        while filled < remaining:
            count = self.readinto(view[filled:])
            if count == 0:
                break
            filled += count
        del view
        return bytes(result) if filled == remaining else bytes(result[:filled])

    def close(self) -> None:
        if not self.closed:
            self._drop_response()
            self._drop_ahead()
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def _response_for(self, position: int, wanted: int) -> urllib3.BaseHTTPResponse:
        """The open response if it is at `position`, else a new range:

        - reading on where the last range ended: READ_AHEAD_CHUNKS chunks, each such range twice the one
          before up to READ_AHEAD_MAX_CHUNKS, and the range after it is asked for while this one is read,
          so the server is already sending it (into the socket's buffer, not ours) when it is needed
          (after the first chunk, once half of that is read);
        - inside the last range (a dropped connection resumed, or a short seek): the rest of that range;
        - elsewhere: one chunk, or what the caller wants (and reading on from there starts small again).
        """
        if self._response is not None and self._response_at == position:
            return self._response
        start, end = self._range
        reading_on = self._response is None and position == end > 0
        self._drop_response()
        ahead, self._ahead = self._ahead, None
        if reading_on and ahead is not None and ahead.start == position:
            response, end = self._collect(ahead), ahead.end
        else:
            if reading_on or not start <= position < end:
                if ahead is not None:
                    _discard(ahead.future)
                    ahead = None
                if reading_on:
                    span = self._span
                    self._grow_span()
                else:
                    span = max(self._chunk_size if position else self._first_range, wanted)
                    self._span = self._chunk_size * READ_AHEAD_CHUNKS
                end = min(self._size, position + min(span, MAX_SPAN))
            response = self._get(position, end)
            self._ahead = ahead  # still right after a resumed range
        self._response = response
        self._response_at = position
        self._range = (position, end)
        if reading_on and end < self._size:
            self._ask_ahead(end)
        return response

    def _get(self, start: int, end: int) -> urllib3.BaseHTTPResponse:
        """A GET of bytes [start, end) of the version seen at open(); its body is left to be read."""
        try:
            response = self._connection.request(
                "GET",
                self._bucket,
                self._key,
                headers={"Range": f"bytes={start}-{end - 1}", "If-Match": self._etag},
                payload_sha256=UNSIGNED_PAYLOAD,
                stream=True,
            )
        except S3Error as error:
            if error.code == "PreconditionFailed" or is_not_found(error):
                raise ObjectChangedError(
                    f"{self._bucket}/{self._key} was replaced or deleted while being read"
                ) from error
            raise
        if response.status != 206:  # a server ignoring Range would send the whole object from byte 0
            response.close()
            response.release_conn()
            raise OSError(f"{self._bucket}/{self._key}: expected a partial response, got {response.status}")
        idle(response)
        return response

    def _ask_ahead(self, start: int) -> None:
        """Ask for a range on this process's shared pool (looked up now: a file may outlive a fork)."""
        if not self._read_ahead_workers:
            return
        end = min(self._size, start + min(self._span, MAX_SPAN))
        try:
            future = shared_executor(self._read_ahead_workers).submit(self._get, start, end)
        except RuntimeError:  # the pool is shut down (the interpreter is exiting): read without asking ahead
            return
        self._grow_span()
        self._ahead = _Ahead(start, end, future)

    def _grow_span(self) -> None:
        """Twice the range for the next read in order, up to READ_AHEAD_MAX_CHUNKS chunks: each range is a
        signed request and a round trip, so a long read asks for few, while a short one asks for little."""
        self._span = min(2 * self._span, self._chunk_size * READ_AHEAD_MAX_CHUNKS)

    def _collect(self, ahead: _Ahead) -> urllib3.BaseHTTPResponse:
        """The response asked for ahead; asked for here if the pool has not started on it (it is busy)."""
        if ahead.future.cancel():
            return self._get(ahead.start, ahead.end)
        return ahead.future.result()

    def _drop_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            _discard(ahead.future)

    def _release_response(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.release_conn()

    def _drop_response(self) -> None:
        """Leave the open response: read out a small rest to reuse the connection, else close it."""
        response, self._response = self._response, None
        if response is None:
            return
        try:
            if self._range[1] - self._response_at <= DRAIN_LIMIT:
                response.drain_conn()
            else:
                response.close()
        except (HTTPError, OSError):
            response.close()
        response.release_conn()


@dataclass(frozen=True, slots=True)
class _Ahead:
    """A range asked for before it is needed."""

    start: int
    end: int
    future: Future[urllib3.BaseHTTPResponse]


def _discard(future: Future[urllib3.BaseHTTPResponse]) -> None:
    """Give up a range asked for ahead: cancelled if not sent yet, else closed once its answer is in."""
    if not future.cancel():
        future.add_done_callback(_close_answer)


def _close_answer(future: Future[urllib3.BaseHTTPResponse]) -> None:
    if not future.cancelled() and future.exception() is None:
        response = future.result()
        response.close()
        response.release_conn()


def _receive(response: urllib3.BaseHTTPResponse, view: memoryview, pieces: receiving) -> int:
    """Fill the caller's buffer (or up to the end of the body) in PROGRESS_UNIT pieces, each within a full
    deadline of its own: one call for all of a large read, so its Python-level cost is paid once, not per piece.
    urllib3 would allocate a new bytes object per read (a 4 MiB mmap and its page faults each time) that is then
    copied; for a plain Content-Length body (never decoded: we ask with decode_content=False) reading its
    http.client response directly is the same bytes, zero-copy."""
    body = getattr(response, "_fp", None)
    direct = body if isinstance(body, http.client.HTTPResponse) and not body.chunked else None
    filled = 0
    while filled < len(view):
        if filled:
            pieces.next()
        piece = view[filled : filled + PROGRESS_UNIT]
        if direct is not None:
            count = direct.readinto(piece)
        else:
            data = response.read(len(piece))
            count = len(data)
            piece[:count] = data
        if not count:
            break
        filled += count
    return filled


def _total_size(response: urllib3.BaseHTTPResponse) -> int:
    """The object's size from `Content-Range: bytes 0-N/TOTAL` (or Content-Length of a whole-object answer)."""
    content_range = response.headers.get("Content-Range", "")
    if response.status == 206 and "/" in content_range:
        return int(content_range.rsplit("/", 1)[1])
    if response.status == 200 and response.headers.get("Content-Length"):
        return int(response.headers["Content-Length"])
    response.close()
    response.release_conn()
    raise OSError(f"cannot tell the size of the object from a {response.status} answer ({content_range!r})")
