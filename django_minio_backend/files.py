"""The file object returned by `storage.open()`: a Django File over ranged.py's reader, in binary or UTF-8 text mode."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.base import File

from .ranged import READ_BUFFER, RangedReader

__all__ = ["MinioFile"]


class MinioFile(File):  # type: ignore[type-arg]  # File is generic only in the stubs
    """A read-only Django File over one object; nothing is fetched until the first read."""

    def __init__(self, reader: RangedReader, name: str, mode: str = "rb", buffer_size: int | None = None):
        self._reader = reader
        self._buffer_size = buffer_size = buffer_size or max(1, min(READ_BUFFER, reader.size))
        super().__init__(self._stream(reader, mode, buffer_size), name)
        self.mode = mode
        self.size = reader.size

    @staticmethod
    def _stream(
        reader: RangedReader, mode: str, buffer_size: int
    ) -> io.BufferedReader[RangedReader] | io.TextIOWrapper:
        buffered = io.BufferedReader(reader, buffer_size=buffer_size)
        return buffered if "b" in mode else io.TextIOWrapper(buffered, encoding="utf-8")

    def read(self, size: int | None = -1) -> Any:
        """The stream's read(). In binary mode a large read is cut to the size left, as BufferedReader
        allocates all it is asked for (fresh memory, page faults and all, even at the end of the object),
        and reading all the rest becomes one read of the exact size, received straight into the result
        (BufferedReader.read() would copy the buffer of readall())."""
        stream = self.file
        if stream is None:
            raise ValueError("I/O operation on closed file.")
        if (size is not None and 0 <= size <= READ_BUFFER) or not isinstance(stream, io.BufferedReader):
            return stream.read(-1 if size is None else size)
        left = max(0, self._reader.size - stream.tell())
        return stream.read(left if size is None or size < 0 else min(size, left))

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> MinioFile:
        """Back to the start; reopening after close() reads the same object version again."""
        if not self.closed and (mode is None or mode == self.mode):
            self.seek(0)
            return self
        if mode is not None and mode not in ("r", "rb", "rt"):
            raise ValueError(f"MinioFile supports read modes only ('rb', 'r'), not {mode!r}")
        if self.file is not None:
            self.file.close()
        self.mode = mode or self.mode
        self._reader = self._reader.reopen()
        self.file = self._stream(self._reader, self.mode, self._buffer_size)
        return self
