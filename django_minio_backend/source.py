"""The content of a save(): a binary or text stream read in blocks or parts, its length, whether it can be re-read."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from typing import Any, Final

from django.core.files.base import File

from .connection import Buffer, SourceError
from .settings import MiB

__all__ = ["BLOCK", "UploadSource"]

BLOCK: Final = 1 * MiB  # what a streamed PUT reads from the source at a time


class UploadSource:
    """The caller's content: a binary or text stream, its length when knowable, and whether it can be re-read.

    Uploads start at the beginning of the stream (Django's `File.chunks()` does the same). Text is
    sent UTF-8 encoded; its encoded length is unknown until read. So is the length of a stream that
    cannot seek, whatever `File.size` says: Django reports 0 for a pipe, and a stored object must
    hold everything the source gives.

    S3 needs a length up front, so `read_ahead()` reads a stream of unknown length up to one part: one
    that ends within it is kept whole (`in_memory`), a longer one keeps that part (`first_part`) for
    the multipart upload that follows.
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
        self.in_memory: bytearray | None = None  # the whole content, read because its length was unknown
        self.first_part: bytearray | None = None  # the first part of a longer one, until a multipart upload takes it

    def read_ahead(self, part_size: int) -> None:
        """For a stream of unknown length not read ahead yet: read up to `part_size` bytes, kept whole when the
        stream ends within them, else as its first part."""
        if self.size is not None or self.in_memory is not None or self.first_part is not None:
            return
        head = bytearray(part_size)
        filled = self.read_into(memoryview(head))
        if filled < part_size:
            del head[filled:]
            self.in_memory = head
        else:
            self.first_part = head

    def rewind(self) -> bool:
        """Go back to the start of the stream for another attempt; False when it cannot seek."""
        if not self.seekable:
            return False
        self._stream.seek(0)
        self._pending = b""
        self.first_part = None
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

    def at_end(self) -> bool:
        return self._read_some(memoryview(bytearray(1))) == 0

    def exact_blocks(self, size: int) -> Iterator[Buffer]:
        """Exactly `size` bytes in BLOCK pieces from one reused buffer; a source that is shorter or longer
        than announced fails before its last byte is sent, so the server never stores a truncated object."""
        buffer = bytearray(min(size, BLOCK))
        view = memoryview(buffer)
        remaining = size
        while remaining:
            try:
                count = self.read_into(view[: min(remaining, len(buffer))])
                if count == 0:
                    raise ValueError(f"the source ended after {size - remaining} of its {size} bytes")
                remaining -= count
                if not remaining and not self.at_end():
                    raise ValueError(f"the source holds more than the {size} bytes it announced")
            except Exception as exc:
                raise SourceError(exc) from exc
            yield view[:count]

    def md5(self) -> str | None:
        """MD5 of the whole source, read again from the start (None when it cannot be): the ETag of a single PUT."""
        if not self.rewind():
            return None
        digest = hashlib.md5(usedforsecurity=False)
        view = memoryview(bytearray(BLOCK))
        while count := self.read_into(view):
            digest.update(view[:count])
        return digest.hexdigest()

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
