"""Helpers the test modules share, written once: objects written and read back with the admin client (never
through the code under test), anonymous HTTP requests, signed-URL fields, storage factories, upload sources, a
recording cache, forked children and peak-memory measurement."""

from __future__ import annotations

import io
import os
import re
import signal
import threading
import time
import tracemalloc
import tty
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, TextIO, cast
from urllib.parse import parse_qs, urlsplit

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.helpers import ObjectWriteResult

from cache_backends import URLCache
from django_minio_backend import MinioBackend
from django_minio_backend.settings import MiB
from tests.settings import PRIVATE_BUCKET

# -- settings without a server -----------------------------------------------------------------------------------
BASE: dict[str, Any] = {"MINIO_ENDPOINT": "minio:9000", "MINIO_ACCESS_KEY": "ak", "MINIO_SECRET_KEY": "sk"}
MEDIA = "django_minio_backend.models.MinioBackend"
STATIC = "django_minio_backend.models.MinioBackendStatic"

# -- uploads in small parts, so multipart paths run on small payloads ---------------------------------------------
PART = 5 * MiB
MULTIPART = {
    "MINIO_MULTIPART_UPLOAD": True,
    "MINIO_MULTIPART_THRESHOLD": PART,
    "MINIO_MULTIPART_PART_SIZE": PART,
    "MINIO_UPLOAD_WORKERS": 2,
}

# Characters an XML 1.0 body cannot carry (and \r, which the server's parser reads back as \n).
_XML_CANNOT_CARRY = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def private_storage(**options: Any) -> MinioBackend:
    """A storage on the private test bucket through the live "default" alias, with per-instance overrides."""
    return MinioBackend(bucket_name=PRIVATE_BUCKET, storage_name="default", **options)


def cache_prefix() -> str:
    """A fresh URL-cache key prefix, so tests sharing a cache never see each other's entries."""
    return f"t{uuid.uuid4().hex[:10]}_"


def other_spelling(endpoint: str) -> str:
    """The same server named the other way: 127.0.0.1:P <-> localhost:P."""
    host, port = endpoint.rsplit(":", 1)
    return f"{'localhost' if host == '127.0.0.1' else '127.0.0.1'}:{port}"


# -- anonymous HTTP ----------------------------------------------------------------------------------------------
def fetch(url: str) -> bytes:
    """The body of an anonymous GET; an error status raises urllib.error.HTTPError."""
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def post_form(
    url: str, fields: Mapping[str, str], data: bytes, content_type: str | None = None
) -> urllib3.BaseHTTPResponse:
    """An HTML form POST to the bucket as a browser sends it: the policy's fields, then the file last; the
    urllib3 response (status 204 when stored)."""
    form: list[tuple[str, Any]] = list(fields.items())
    if content_type is not None:
        form.append(("Content-Type", content_type))
    form.append(("file", ("upload.bin", data)))
    return _FORMS.request("POST", url, fields=form)


_FORMS = urllib3.PoolManager(retries=False)


def http_status(url: str) -> int:
    """The status of an anonymous GET, as a browser would send it (for checking who may read a URL)."""
    try:
        fetch(url)
    except urllib.error.HTTPError as error:
        return int(error.code)
    return 200


# -- signed URLs -------------------------------------------------------------------------------------------------
def query(url: str) -> dict[str, str]:
    """The URL's query parameters, the first value of each."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def signed_at(url: str) -> int:
    """When a presigned URL was signed (X-Amz-Date), in Unix seconds."""
    return int(datetime.strptime(query(url)["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp())


def valid_until(url: str) -> int:
    """When a presigned URL stops working: its signing time plus X-Amz-Expires, in Unix seconds."""
    return signed_at(url) + int(query(url)["X-Amz-Expires"])


# -- objects through the admin client ----------------------------------------------------------------------------
def put_bytes(
    admin_client: Minio,
    name: str,
    data: bytes = b"x",
    *,
    bucket: str = PRIVATE_BUCKET,
    content_type: str = "application/octet-stream",
    metadata: dict[str, str] | None = None,
) -> ObjectWriteResult:
    """Write an object as another process would (not through the storage under test); `metadata` holds other
    headers it is stored with (Cache-Control, x-amz-meta-*)."""
    return admin_client.put_object(
        bucket_name=bucket,
        object_name=name,
        data=io.BytesIO(data),
        length=len(data),
        content_type=content_type,
        metadata=cast(Any, metadata),
    )


def put_objects(admin_client: Minio, bucket: str, *names: str) -> None:
    """Write a one-byte object under each name, four at a time (thousands of names take seconds, not minutes)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda name: put_bytes(admin_client, name, bucket=bucket), names))


def stored_bytes(admin_client: Minio, name: str, *, bucket: str = PRIVATE_BUCKET) -> bytes:
    """What the server holds under `name`."""
    response = admin_client.get_object(bucket_name=bucket, object_name=name)
    try:
        return bytes(response.read())
    finally:
        response.close()
        response.release_conn()


def stored_names(admin_client: Minio, bucket: str, prefix: str = "") -> set[str]:
    """Every object name in the bucket (under `prefix`)."""
    found = admin_client.list_objects(bucket_name=bucket, prefix=prefix or None, recursive=True)
    return {item.object_name or "" for item in found}


def open_uploads(admin_client: Minio, prefix: str, *, bucket: str = PRIVATE_BUCKET) -> list[str]:
    """Keys of the multipart uploads in progress under `prefix` (read from the XML: the SDK's parser fails on the
    local-time `Initiated` SeaweedFS sends when it runs with a TZ, as under Django's test settings)."""
    response = admin_client._execute("GET", bucket, query_params={"uploads": "", "prefix": prefix})
    return [key.text or "" for key in ET.fromstring(response.data).iterfind("{*}Upload/{*}Key")]


def empty_bucket(admin_client: Minio, bucket: str) -> None:
    """Delete every object: in one batch, except keys an XML body cannot carry, which go one by one."""
    names = stored_names(admin_client, bucket)
    for name in [name for name in names if _XML_CANNOT_CARRY.search(name)]:
        admin_client.remove_object(bucket_name=bucket, object_name=name)
    batch = [DeleteObject(name=name) for name in names if not _XML_CANNOT_CARRY.search(name)]
    assert list(admin_client.remove_objects(bucket_name=bucket, delete_object_list=batch)) == []


def drop_bucket(admin_client: Minio, bucket: str) -> None:
    """Empty and remove the bucket, if it exists."""
    if admin_client.bucket_exists(bucket_name=bucket):
        empty_bucket(admin_client, bucket)
        admin_client.remove_bucket(bucket_name=bucket)


# -- upload sources ----------------------------------------------------------------------------------------------
class Stream(io.RawIOBase):
    """A non-seekable stream over bytes (like a socket or a pipe), optionally failing after `fail_at` bytes."""

    def __init__(self, data: bytes, fail_at: int | None = None, error: Exception | None = None) -> None:
        super().__init__()
        self._data = memoryview(data)
        self._position = 0
        self._fail_at = fail_at
        self._error = error or RuntimeError("source failed")
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._fail_at is not None and self._position >= self._fail_at:
            raise self._error
        count = min(len(buffer), len(self._data) - self._position, 256 * 1024)
        buffer[:count] = self._data[self._position : self._position + count]
        self._position += count
        self.read_bytes += count
        return count


def as_io(stream: Stream) -> IO[bytes]:
    """Django's File accepts any stream; its stubs want typing.IO."""
    return cast(IO[bytes], stream)


class RecordingBackend(MinioBackend):
    """Keeps the ETags handed to the URL-cache hook."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.etags: dict[str, str] = {}

    def _remember_etag(self, name: str, etag: str) -> None:
        self.etags[name] = etag


# -- peak memory -------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class PeakMemory:
    """The most memory traced at once while the block ran (set when it ends without raising)."""

    bytes: int = 0


@contextmanager
def peak_memory() -> Iterator[PeakMemory]:
    """Trace allocations for the block; the yielded object's `bytes` holds their peak once the block ends."""
    measured = PeakMemory()
    tracemalloc.start()
    try:
        yield measured
        _, measured.bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()


# -- caches ------------------------------------------------------------------------------------------------------
class RecordingCache:
    """Wraps a real URL cache and records the name of every call the core makes to it (the URLCache protocol)."""

    def __init__(self, inner: URLCache) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def get(self, key: str) -> str | None:
        self.calls.append("get")
        return self.inner.get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        self.calls.append("get_many")
        return self.inner.get_many(keys)

    def set(self, key: str, value: str, timeout: int) -> None:
        self.calls.append("set")
        self.inner.set(key, value, timeout)

    def set_many(self, items: Mapping[str, str], timeout: int) -> None:
        self.calls.append("set_many")
        self.inner.set_many(items, timeout)

    def delete(self, key: str) -> None:
        self.calls.append("delete")
        self.inner.delete(key)


# -- forked children ---------------------------------------------------------------------------------------------
CHILD_DEADLINE = 120.0  # seconds a round of children may take (generous: the machine may be loaded)


@dataclass(frozen=True, slots=True)
class Report:
    """How a child ended: its exit status (None: killed at the deadline) and what it wrote to the pipe."""

    status: int | None
    text: str

    @property
    def ok(self) -> bool:
        return self.status == 0 and self.text == "ok"


def fork_children(work: Callable[[int], str], count: int, deadline: float = CHILD_DEADLINE) -> list[Report]:
    """Run work(index) in `count` forked children at once; each child's answer ("ok" or what went wrong) and status.

    The children start together, once all of them exist, so that their requests overlap.
    """
    children: list[tuple[int, int]] = []
    go_read, go_write = os.pipe()
    try:
        for index in range(count):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: never returns into pytest
                status, text = 1, "no report"
                try:
                    os.read(go_read, 1)
                    text = work(index)
                    status = 0 if text == "ok" else 1
                except BaseException as error:  # noqa: BLE001 - the child must always report and exit
                    text = f"raised {error!r}"
                finally:
                    try:
                        os.write(write_end, text.encode(errors="replace")[:60_000])
                    finally:
                        os._exit(status)
            os.close(write_end)  # later children must not inherit it, or reading would wait for them too
            children.append((pid, read_end))
    finally:
        os.write(go_write, b"g" * len(children))
        os.close(go_read)
        os.close(go_write)
    ends_at = time.monotonic() + deadline
    statuses: dict[int, int | None] = {}
    while len(statuses) < len(children):
        for pid, _ in children:
            if pid in statuses:
                continue
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                statuses[pid] = os.waitstatus_to_exitcode(status)
            elif time.monotonic() > ends_at:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                statuses[pid] = None
        time.sleep(0.01)
    reports = []
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as reader:
            text = reader.read().decode(errors="replace")  # every write end is closed by now
        reports.append(Report(statuses[pid], text if statuses[pid] is not None else f"hung, killed ({text!r})"))
    return reports


# -- a pseudo-terminal, for output meant for a TTY ----------------------------------------------------------------
class PseudoTerminal:
    """`stream` writes to the slave side of a new pseudo-terminal (its isatty() is True, as a user's shell would
    give a command); on leaving the block, `output` holds every character written, read from the master side by a
    thread so writes never block. Raw mode: no "\n" -> "\r\n" rewriting, so `output` is exactly what was sent."""

    _END = "\x00end-of-output\x00"

    def __init__(self) -> None:
        self._master, slave = os.openpty()
        tty.setraw(slave)
        self.stream: TextIO = open(slave, "w", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
        self.output = ""
        self._read = bytearray()
        self._reader = threading.Thread(target=self._pump, name="pty-reader", daemon=True)

    def __enter__(self) -> PseudoTerminal:
        self._reader.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stream.write(self._END)  # everything before it has been read once the reader has seen it
        self.stream.flush()
        deadline = time.monotonic() + 10
        while self._END.encode() not in self._read and time.monotonic() < deadline:
            time.sleep(0.01)
        self.stream.close()
        self._reader.join(10)
        os.close(self._master)
        self.output = bytes(self._read).decode("utf-8").split(self._END)[0]

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: the slave side is closed
                return
            if not data:
                return
            self._read.extend(data)
