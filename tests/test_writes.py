"""Writes that never duplicate or truncate: lying sources, lost answers, odd answers (issue 15, items 3-5, 13).

Every test runs against the real server, through `tests/faultproxy.py` where the server must act while the
client sees a failure, and with real pipes, FIFOs and child processes as sources.
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import urllib3
from django.core.files.base import ContentFile, File
from minio import Minio
from minio.error import S3Error

from django_minio_backend.connection import BACKOFF_BASE, MAX_DELAY, _retry_delay
from django_minio_backend.settings import MiB
from tests.faultproxy import Action, FaultProxy, Relay, RelayThenRespond, RequestHead, Respond, s3_error
from tests.helpers import (
    MULTIPART,
    PART,
    Stream,
    as_io,
    open_uploads,
    peak_memory,
    private_storage,
    put_bytes,
    stored_bytes,
)
from tests.servers import S3Server

SIZES = [0, 100_000, 2 * PART + 7]  # empty, one small PUT, more than one part


# -- item 3: sources whose declared size is wrong ------------------------------------------------------
@contextlib.contextmanager
def pipe_source(kind: str, payload: bytes, tmp_path: Path) -> Iterator[File[bytes]]:
    """`payload` behind a real pipe; Django's File reports size 0 for each of them (a pipe's st_size)."""
    writer: threading.Thread | None = None
    process: subprocess.Popen[bytes] | None = None
    handle: IO[bytes]
    if kind == "os.pipe":
        read_end, write_end = os.pipe()

        def feed() -> None:
            with open(write_end, "wb") as sink:
                sink.write(payload)

        writer = threading.Thread(target=feed)
        writer.start()
        handle = open(read_end, "rb")  # noqa: SIM115 - closed below
    elif kind == "subprocess":
        path = tmp_path / "payload.bin"
        path.write_bytes(payload)
        copy = "import shutil, sys; shutil.copyfileobj(open(sys.argv[1], 'rb'), sys.stdout.buffer)"
        process = subprocess.Popen([sys.executable, "-c", copy, str(path)], stdout=subprocess.PIPE)
        assert process.stdout is not None
        handle = process.stdout
    elif kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)

        def feed_fifo() -> None:
            with path.open("wb") as sink:
                sink.write(payload)

        writer = threading.Thread(target=feed_fifo)
        writer.start()
        handle = path.open("rb")  # blocks until the writer has opened its end
    else:
        raise AssertionError(kind)
    try:
        content = File(handle, name="piped.bin")
        assert content.size == 0  # what Django believes: the save must not
        yield content
    finally:
        handle.close()
        if writer is not None:
            writer.join(timeout=30)
        if process is not None:
            process.wait(timeout=30)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", ["os.pipe", "subprocess", "fifo"])
def test_pipes_are_stored_whole(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, tmp_path: Path, kind: str, size: int
) -> None:
    payload = os.urandom(size)
    media = private_storage(**MULTIPART)
    with pipe_source(kind, payload, tmp_path) as content:
        name = media.save(f"{unique}/piped.bin", content)
    assert name == f"{unique}/piped.bin"
    assert stored_bytes(admin_client, name) == payload


@pytest.mark.parametrize("options", [{}, MULTIPART], ids=["multipart-off", "multipart-on"])
@pytest.mark.parametrize("declared", [0, 100, 300, 2 * PART])
@pytest.mark.parametrize("size", [200, 2 * PART + 7])
def test_declared_size_of_a_stream_is_not_trusted(
    live_settings: dict[str, Any],
    admin_client: Minio,
    unique: str,
    size: int,
    declared: int,
    options: dict[str, Any],
) -> None:
    """A non-seekable source is stored as long as it really is, whatever `File.size` says."""
    payload = os.urandom(size)
    content = File(as_io(Stream(payload)), name="liar.bin")
    content.size = declared
    name = private_storage(**options).save(f"{unique}/liar.bin", content)
    assert stored_bytes(admin_client, name) == payload


class Growing(io.BytesIO):
    """A seekable source that is appended to once the upload has started reading it (a growing log file)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._extra = b"appended"

    def readinto(self, buffer: Any) -> int:
        if self._extra:
            position = self.tell()
            self.seek(0, io.SEEK_END)
            self.write(self._extra)
            self.seek(position)
            self._extra = b""
        return super().readinto(buffer)


@pytest.mark.parametrize("size", [100_000, 2 * PART + 7])
def test_source_longer_than_its_measured_size_fails_before_the_final_write(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, size: int
) -> None:
    """Where a size is relied on (a seekable source is measured once), data beyond it fails the save."""
    media = private_storage(**MULTIPART)
    with pytest.raises(ValueError, match="more than"):
        media.save(f"{unique}/growing.log", File(Growing(os.urandom(size)), name="growing.log"))
    assert not media.exists(f"{unique}/growing.log")
    assert open_uploads(admin_client, unique) == []


# -- item 4: a write whose answer was lost is settled, never repeated blindly ------------------------
def is_single_put(head: RequestHead) -> bool:
    return head.method == "PUT" and "uploadId=" not in head.target


def is_create(head: RequestHead) -> bool:
    return head.method == "POST" and "?uploads" in head.target


def is_complete(head: RequestHead) -> bool:
    return head.method == "POST" and "uploadId=" in head.target


LOST_ANSWERS: dict[str, Action] = {
    "504": RelayThenRespond(s3_error(504, "Gateway Timeout", "GatewayTimeout")),
    "500": RelayThenRespond(s3_error(500, "Internal Server Error", "InternalError")),
    "reset": Relay(cut_response_after=0),
}
WRITES: dict[str, tuple[Callable[[RequestHead], bool], Callable[[bytes], File[Any]], int]] = {
    "put-seekable": (is_single_put, lambda payload: ContentFile(payload), 100_000),
    "put-buffered": (is_single_put, lambda payload: File(as_io(Stream(payload)), name="s"), 100_000),
    "create-upload": (is_create, lambda payload: ContentFile(payload), 2 * PART + 7),
    "complete-upload": (is_complete, lambda payload: ContentFile(payload), 2 * PART + 7),
}


@pytest.mark.parametrize("replace", [False, True], ids=["create-only", "replace"])
@pytest.mark.parametrize("lost", list(LOST_ANSWERS))
@pytest.mark.parametrize("write", list(WRITES))
def test_write_whose_answer_was_lost_is_stored_once(
    live_settings: dict[str, Any],
    s3_server: S3Server,
    admin_client: Minio,
    unique: str,
    write: str,
    lost: str,
    replace: bool,
) -> None:
    """The server carries the request out, the client sees an error: exactly one object, under the asked name,
    with the right bytes, and no multipart upload left behind."""
    matches, make, size = WRITES[write]
    payload = os.urandom(size)
    name = f"{unique}/once.bin"
    if replace:
        put_bytes(admin_client, name, b"old")
    failed = threading.Event()

    def decide(head: RequestHead) -> Action:
        if matches(head) and not failed.is_set():
            failed.set()
            return LOST_ANSWERS[lost]
        return Relay()

    with FaultProxy(s3_server.endpoint, decide) as proxy:
        media = private_storage(MINIO_ENDPOINT=proxy.endpoint, replace_existing=replace, **MULTIPART)
        saved = media.save(name, make(payload))
        assert failed.is_set()
        repeated = [head.method for head in proxy.requests if matches(head)]
    assert saved == name
    assert private_storage().listdir(unique) == ([], ["once.bin"])
    assert stored_bytes(admin_client, name) == payload
    assert open_uploads(admin_client, unique) == []
    if write == "create-upload":
        assert len(repeated) == 2  # found and aborted, then created once more
    elif replace and write.startswith("put"):
        assert len(repeated) == 2  # an unconditional PUT is simply sent again
    else:
        assert len(repeated) == 1  # the HEAD found it stored: not sent again


def test_lost_answer_then_someone_elses_object_is_not_claimed(
    live_settings: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str
) -> None:
    """A create-only PUT that did not happen, while another saver took the name: the save moves on to a new
    name and the other object stays as it was."""
    name = f"{unique}/other.bin"
    failed = threading.Event()

    def decide(head: RequestHead) -> Action:
        if is_single_put(head) and not failed.is_set():
            failed.set()
            put_bytes(admin_client, name, b"theirs")
            return s3_error(504, "Gateway Timeout", "GatewayTimeout")  # our PUT never reached the server
        return Relay()

    with FaultProxy(s3_server.endpoint, decide) as proxy:
        saved = private_storage(MINIO_ENDPOINT=proxy.endpoint).save(name, ContentFile(b"ours"))
    assert saved != name
    assert stored_bytes(admin_client, name) == b"theirs"
    assert stored_bytes(admin_client, saved) == b"ours"


def test_lost_write_that_lands_late_is_recognised(
    live_settings: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str
) -> None:
    """The check finds nothing, then the lost PUT lands (a slow gateway) and the next attempt is refused: that
    refusal comes from our own write, so the save ends under the asked name instead of storing a copy."""
    name = f"{unique}/late.bin"
    payload = os.urandom(1000)
    puts = iter(range(2))

    def decide(head: RequestHead) -> Action:
        number = next(puts, None) if is_single_put(head) else None
        if number == 0:
            return s3_error(504, "Gateway Timeout", "GatewayTimeout")  # not stored yet
        if number == 1:  # the first attempt lands just before the second one arrives
            put_bytes(admin_client, name, payload)
        return Relay()

    with FaultProxy(s3_server.endpoint, decide) as proxy:
        saved = private_storage(MINIO_ENDPOINT=proxy.endpoint).save(name, ContentFile(payload))
        assert [head.method for head in proxy.requests] == ["PUT", "HEAD", "PUT", "HEAD"]
    assert saved == name
    assert private_storage().listdir(unique) == ([], ["late.bin"])
    assert stored_bytes(admin_client, name) == payload


# -- item 13: error bodies are capped, a 2xx body that is not XML is a clear error ----------------------
def test_huge_error_body_is_not_read_whole(
    live_settings: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str
) -> None:
    huge = b"<Error><Code>AccessDenied</Code><Message>" + b"x" * (64 * MiB) + b"</Message></Error>"
    denied = threading.Event()

    def decide(head: RequestHead) -> Action:
        if is_single_put(head) and not denied.is_set():
            denied.set()
            return Respond(403, "Forbidden", {"Content-Type": "application/xml"}, huge)
        return Relay()

    with FaultProxy(s3_server.endpoint, decide) as proxy:
        media = private_storage(MINIO_ENDPOINT=proxy.endpoint)
        media.exists("warm-up")  # the pool and the SDK client exist before memory is measured
        with peak_memory() as measured, pytest.raises(S3Error) as info:
            media.save(f"{unique}/denied.txt", ContentFile(b"data"))
        peak = measured.bytes
        assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB"
        assert info.value.response is not None and info.value.response.status == 403
        name = media.save(f"{unique}/after.txt", ContentFile(b"fine"))  # the connection was not reused half-read
    assert stored_bytes(admin_client, name) == b"fine"


@pytest.mark.parametrize("step", ["create-upload", "complete-upload"])
def test_answer_that_is_not_xml_is_a_clear_error(
    live_settings: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str, step: str
) -> None:
    matches = is_create if step == "create-upload" else is_complete

    def decide(head: RequestHead) -> Action:
        if matches(head):
            return Respond(200, "OK", {"Content-Type": "text/html"}, b"<html><body>proxy says hi")
        return Relay()

    name = f"{unique}/garbled.bin"
    with FaultProxy(s3_server.endpoint, decide) as proxy:
        media = private_storage(MINIO_ENDPOINT=proxy.endpoint, **MULTIPART)
        with pytest.raises(OSError, match=name):
            media.save(name, ContentFile(os.urandom(PART + 1)))
    assert not private_storage().exists(name)
    assert open_uploads(admin_client, unique) == []


# -- item 5 (our half): a Retry-After we cannot read falls back to backoff -------------------------------
def answer(retry_after: str) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(body=b"", headers={"Retry-After": retry_after}, status=503)


@pytest.mark.parametrize(
    "value",
    [
        "soon",
        "",
        "   ",
        "-5",
        "1.5",
        "1e400",
        "nan",
        "Mon, 01 Jan 99999999 00:00:00 GMT",  # a year no clock reaches
        "\x00",
    ],
)
def test_unreadable_retry_after_falls_back_to_backoff(value: str) -> None:
    for attempt in range(3):
        delay = _retry_delay(attempt, answer(value))
        assert 0.0 <= delay <= BACKOFF_BASE * 2**attempt


def test_readable_retry_after_is_followed_and_capped() -> None:
    assert _retry_delay(0, answer("0")) == 0.0
    assert _retry_delay(0, answer("3")) == 3.0
    assert _retry_delay(0, answer(" 7 ")) == 7.0
    assert _retry_delay(0, answer("3600")) == MAX_DELAY
    in_five = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3.0 <= _retry_delay(0, answer(in_five)) <= 5.0
    assert _retry_delay(0, answer("Mon, 01 Jan 2100 00:00:00 GMT")) == MAX_DELAY
    assert _retry_delay(0, answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # in the past
    assert _retry_delay(0, answer("Wed, 21 Oct 2015 07:28:00 -0000")) == 0.0  # a date without a time zone


def test_unreadable_retry_after_from_the_server_is_retried(
    live_settings: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str
) -> None:
    busy = iter(["soon", "Wed, 21 Oct 2015 07:28:00 -0000"])

    def decide(head: RequestHead) -> Action:
        value = next(busy, None) if "partNumber=" in head.target else None
        if value is not None:
            return s3_error(503, "Slow Down", "SlowDown", retry_after=value)
        return Relay()

    payload = os.urandom(PART + 1)
    with FaultProxy(s3_server.endpoint, decide) as proxy:
        name = private_storage(MINIO_ENDPOINT=proxy.endpoint, **MULTIPART).save(
            f"{unique}/busy.bin", ContentFile(payload)
        )
        assert sum("partNumber=" in head.target for head in proxy.requests) == 2 + 2
    assert stored_bytes(admin_client, name) == payload
