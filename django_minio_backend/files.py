"""The file object returned by `storage.open()`: reads stream from the server, never the whole object at once."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from django.core.files.base import File

if TYPE_CHECKING:
    from .storage import MinioBackend


class _ResponseReader(io.RawIOBase):
    """A raw, forward-only reader over one GET response; the body is pulled as the caller reads."""

    def __init__(self, storage: MinioBackend, name: str) -> None:
        super().__init__()
        self._response: Any = storage.client.get_object(bucket_name=storage.bucket, object_name=name)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._response.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        return size

    def close(self) -> None:
        if not self.closed:
            self._response.close()
            self._response.release_conn()
        super().close()


class MinioFile(File):  # type: ignore[type-arg]  # File is generic only in the stubs
    """A read-only Django File backed by an object; opened lazily on first read."""

    def __init__(self, storage: MinioBackend, name: str, mode: str = "rb") -> None:
        self._storage = storage
        self._mode = mode
        self._stream: io.IOBase | None = None
        super().__init__(None, name)
        self.mode = mode

    def _open_stream(self) -> io.IOBase:
        if self._stream is None:
            raw = io.BufferedReader(_ResponseReader(self._storage, self.name or ""), buffer_size=256 * 1024)
            self._stream = raw if "b" in self._mode else io.TextIOWrapper(raw, encoding="utf-8")
        return self._stream

    @property
    def file(self) -> Any:  # Django's File reads `self.file`
        return self._open_stream()

    @file.setter
    def file(self, value: Any) -> None:
        if value is not None:
            raise AttributeError("MinioFile manages its own stream")

    @property
    def size(self) -> int:
        return self._storage.size(self.name or "")

    @property
    def closed(self) -> bool:
        return self._stream is None or self._stream.closed

    def read(self, size: int = -1) -> Any:
        return self._open_stream().read(size)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
