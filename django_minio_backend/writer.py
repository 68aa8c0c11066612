"""The file object of `storage.open(name, "wb")`: what is written goes up in parts; the object appears at close().

Bytes are gathered into a part-sized buffer. A full buffer is sent as a multipart part (on the shared pool,
as a save's parts are) once a byte past it is written, so an object that fits in one part goes up in a
single PUT at close(), and a larger one holds at most workers + 1 part buffers whatever its size. close()
sends the last part and completes the upload, create-only unless the storage replaces objects; nothing
is visible under the name before that. An exception inside `with storage.open(name, "wb")`, or a writer
dropped unclosed, aborts instead: no object, no multipart upload left open.
"""

from __future__ import annotations

import errno
import functools
import io
import warnings
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final, Protocol

from django.core.files.base import File

from .connection import Buffer
from .multipart import MultipartUpload
from .parts import PartSender
from .upload import Uploader, WriteMode

__all__ = ["BINARY_WRITE_MODES", "TEXT_WRITE_MODES", "ObjectWriter", "WriterFile", "name_taken"]

BINARY_WRITE_MODES: Final = frozenset({"wb", "bw"})
TEXT_WRITE_MODES: Final = frozenset({"w", "wt", "tw"})  # UTF-8, written as given ("\n" is not translated)


class _Write(Protocol):
    def close(self) -> None: ...

    def abort(self) -> None: ...


class _AbortOnError:
    """A `with` block left normally closes the write (the object is stored); left by an exception, aborts it."""

    def __exit__(
        self: _Write, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


class ObjectWriter(_AbortOnError, io.BufferedIOBase):
    """A binary, write-only, non-seekable stream that becomes one object on close()."""

    def __init__(
        self,
        uploader: Uploader,
        name: str,
        *,
        key: str,
        bucket: str,
        headers: Mapping[str, str],
        mode: WriteMode,
        part_size: int,
        workers: int,
        stored: Callable[[str, str], None],
    ) -> None:
        super().__init__()
        self.name = name
        self._bucket = bucket
        self._uploader = uploader
        self._key = key  # the object's key: the name under the alias's MINIO_KEY_PREFIX
        self._headers = headers  # Content-Type and the other object headers
        self._mode = mode
        self._part_size = part_size
        self._workers = workers
        self._stored = stored  # told the name and ETag once the object is stored
        # The part being filled (the first grows as written, later ones are part-sized buffers): sent once a byte
        # past it is written, or at close().
        self._part = bytearray()
        self._filled = 0
        self._free: list[bytearray] = []  # buffers of sent parts, reused (append and pop are atomic)
        self._upload: MultipartUpload | None = None  # begun when the object turns out larger than one part
        self._sender: PartSender | None = None
        self._written = 0

    # -- io ------------------------------------------------------------------------------------------
    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        """The number of bytes written so far."""
        self._check_open()
        return self._written

    def write(self, data: Buffer) -> int:  # type: ignore[override]  # io's stubs want collections.abc.Buffer
        self._check_open()
        self._check_process()
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            if self._filled == self._part_size:
                try:
                    self._send_part()  # a byte more is coming: the full part goes up
                except BaseException:
                    self.abort()  # a part failed: the write cannot succeed any more
                    raise
            count = min(len(view) - done, self._part_size - self._filled)
            if len(self._part) == self._filled:
                self._part += view[done : done + count]
            else:
                self._part[self._filled : self._filled + count] = view[done : done + count]
            self._filled += count
            done += count
        self._written += done
        return done

    def close(self) -> None:
        """Store the object (create-only unless the storage replaces objects); a failure aborts the upload."""
        if self.closed:
            return
        try:
            self._finish()
        except BaseException:
            self._discard()
            raise
        finally:
            self._part = bytearray()
            self._free.clear()
            super().close()

    def abort(self) -> None:
        """Discard everything written: no object is stored and the multipart upload, if begun, is aborted."""
        if not self.closed:
            try:
                self._discard()
            finally:
                self._part = bytearray()
                self._free.clear()
                super().close()

    def __del__(self) -> None:
        self.drop()

    def drop(self) -> None:
        """Dropped without close(): an unfinished write never becomes an object."""
        if not getattr(self, "closed", True):
            warnings.warn(f"unclosed writer of {self.name!r}: discarded, nothing stored", ResourceWarning, stacklevel=2)
            self.abort()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def _check_process(self) -> None:
        """A forked child's copy of a writer that has sent parts: they run in the parent, which owns the upload."""
        if self._sender is not None and self._sender.crossed_fork:
            raise OSError(
                f"{self._bucket}/{self.name} was being written by the process this one was forked from; "
                "open it for writing again in this process"
            )

    # -- parts ---------------------------------------------------------------------------------------
    def _send_part(self) -> None:
        """Send the full part being filled, then wait for a slot for the next one (workers + 1 buffers at most)."""
        if self._sender is None:
            self._upload = self._uploader.begin(self._key, self._headers)
            # Buffers go back to the free list, not through the writer: pending parts then do not keep a dropped
            # writer alive, and its __del__ aborts at once.
            self._sender = self._upload.sender(self._workers, functools.partial(_recycle, self._free))
            self._sender.reserve()  # the slot of the part already filled
        part, self._part, self._filled = self._part, bytearray(), 0
        self._sender.send(memoryview(part))
        self._sender.reserve()
        self._part = self._free.pop() if self._free else bytearray(self._part_size)

    def _finish(self) -> None:
        self._check_process()
        if self._upload is None or self._sender is None:
            etag = self._uploader.put(self._key, self._part, headers=self._headers, mode=self._mode)
        else:
            self._sender.send(memoryview(self._part)[: self._filled])  # the last part, in the slot reserved for it
            etags = self._sender.finish()
            etag = self._uploader.complete(self._key, self._upload, etags, self._written, self._mode)
        if etag is None:
            raise name_taken(self._bucket, self.name, "was created by someone else while it was written")
        self._upload = None  # completed: nothing to abort
        self._stored(self.name, etag)

    def _discard(self) -> None:
        if self._sender is not None and self._sender.crossed_fork:  # the parent's upload: left to the parent
            self._sender = self._upload = None
            return
        if self._sender is not None:
            self._sender.cancel()
        if self._upload is not None:
            self._upload.abort()
            self._upload = None


def _recycle(free: list[bytearray], part: memoryview) -> None:
    if isinstance(part.obj, bytearray):
        free.append(part.obj)


def name_taken(bucket: str, name: str, how: str) -> FileExistsError:
    """The error of a create-only write to a taken name: a writer asked for that exact name, so it is not renamed."""
    message = f"{how}; nothing was overwritten (the storage does not replace objects: replace_existing=False)"
    return FileExistsError(errno.EEXIST, message, f"{bucket}/{name}")


class _TextWriter(io.TextIOWrapper):
    """UTF-8 text over an ObjectWriter. Dropped unclosed, it drops the writer (io's own finalizer would close it,
    storing an unfinished write)."""

    def __del__(self) -> None:
        writer = self.buffer
        if isinstance(writer, ObjectWriter):
            writer.drop()


class WriterFile(_AbortOnError, File):  # type: ignore[type-arg]  # File is generic only in the stubs
    """The Django File returned by open(name, "wb") or "w" (UTF-8 text); leaving its `with` block by an
    exception aborts the write instead of storing what was written so far."""

    def __init__(self, writer: ObjectWriter, name: str, mode: str) -> None:
        self._writer = writer
        stream: Any = writer if mode in BINARY_WRITE_MODES else _TextWriter(writer, encoding="utf-8", newline="")
        super().__init__(stream, name)
        self.mode = mode

    def abort(self) -> None:
        """Discard what was written (text not yet encoded included): nothing is stored."""
        self._writer.abort()

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> WriterFile:
        raise ValueError(f"{self.name!r} is being written; read it back with storage.open({self.name!r}) once closed")
