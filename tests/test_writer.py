"""storage.open(name, "wb") against the real server: bytes go up in parts as they are written, the object appears
only on close(), create-only, and an exception (or a failed part, or a writer dropped unclosed) leaves nothing."""

from __future__ import annotations

import gc
import itertools
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from minio import Minio
from minio.error import S3Error

from django_minio_backend.settings import MiB
from django_minio_backend.writer import WriterFile
from tests.counting import CountingPoolManager
from tests.faultproxy import Action, FaultProxy, Relay, RequestHead, s3_error
from tests.helpers import MULTIPART, PART, RecordingBackend, open_uploads, peak_memory, put_bytes, stored_bytes
from tests.servers import S3Server
from tests.settings import PRIVATE_BUCKET

WRITE_SIZES = (1, 3, 4093, 65_537, MiB + 3, PART + 7, 2 * PART + 11)  # odd sizes, some across part boundaries


def storage(**options: Any) -> RecordingBackend:
    """5 MiB parts, 2 workers (tests.helpers.MULTIPART) on the private bucket."""
    return RecordingBackend(bucket_name=PRIVATE_BUCKET, storage_name="default", **{**MULTIPART, **options})


def odd_pieces(data: bytes) -> Iterator[memoryview]:
    """`data` cut into pieces of WRITE_SIZES, in turn."""
    view = memoryview(data)
    position = 0
    for size in itertools.cycle(WRITE_SIZES):
        if position >= len(data):
            return
        yield view[position : position + size]
        position += size


def methods(pool: CountingPoolManager) -> list[str]:
    """The requests sent, as METHOD or METHOD?query-kind (uploads, partNumber, uploadId)."""
    found = []
    for method, url in pool.requests:
        query = url.partition("?")[2]
        kind = next((key for key in ("uploads", "partNumber", "uploadId") if query.startswith(key)), "")
        found.append(f"{method}?{kind}" if kind else method)
    return found


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART, PART + 1, 64 * MiB])
def test_written_objects_read_back_byte_identical(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, counting_pool: CountingPoolManager, size: int
) -> None:
    data = os.urandom(size)
    media = storage(MINIO_HTTP_CLIENT=counting_pool)
    name = f"{unique}/written.bin"
    with media.open(name, "wb") as handle:
        assert isinstance(handle, WriterFile)
        for piece in odd_pieces(data):
            assert handle.write(piece) == len(piece)
            assert media.exists(name) is False  # nothing is visible before close()
        assert handle.tell() == size
    assert stored_bytes(admin_client, name) == data
    stat = admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=name)
    assert stat.content_type == "application/octet-stream"
    assert media.etags == {name: stat.etag}  # the URL cache is told the new ETag
    sent = [method for method in methods(counting_pool) if method != "HEAD"]  # the name check and exists() above
    if size <= PART:  # one part or less: one PUT at close(), no multipart upload
        assert sent == ["PUT"]
    else:
        parts = -(-size // PART)
        assert sent == ["POST?uploads", *["PUT?partNumber"] * parts, "POST?uploadId"]
    assert open_uploads(admin_client, unique) == []


def test_text_mode_writes_utf8_as_given(live_settings: dict[str, Any], admin_client: Minio, unique: str) -> None:
    lines = [f"line {index} ünïcode €\r\n" if index % 2 else f"line {index}\n" for index in range(400_000)]
    media = storage()
    with media.open(f"{unique}/notes.txt", "w") as handle:
        for line in lines:
            handle.write(line)
    body = "".join(lines).encode("utf-8")
    assert len(body) > PART  # went up in parts
    assert stored_bytes(admin_client, f"{unique}/notes.txt") == body  # no newline translation
    stat = admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=f"{unique}/notes.txt")
    assert stat.content_type == "text/plain"
    with media.open(f"{unique}/notes.txt", "r") as text:
        assert text.readline() == "line 0\n"


@pytest.mark.parametrize(("size", "mode"), [(1000, "wb"), (3 * PART + 5, "wb"), (3 * PART + 5, "w")])
def test_an_exception_inside_with_leaves_nothing_behind(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, size: int, mode: str
) -> None:
    media = storage()
    name = f"{unique}/broken.bin"
    with pytest.raises(RuntimeError, match="the caller failed"), media.open(name, mode) as handle:
        handle.write(b"x" * size if mode == "wb" else "x" * size)
        raise RuntimeError("the caller failed")
    assert handle.closed
    assert media.exists(name) is False
    assert open_uploads(admin_client, unique) == []  # the multipart upload (begun for the larger sizes) is aborted


def test_a_failed_part_aborts_the_upload(
    live_settings: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str
) -> None:
    def decide(head: RequestHead) -> Action:
        if "partNumber=2&" in head.target:
            return s3_error(403, "Forbidden", "AccessDenied")
        return Relay()

    with FaultProxy(s3_server.endpoint, decide) as proxy:
        media = storage(MINIO_ENDPOINT=proxy.endpoint)
        with pytest.raises(S3Error, match="AccessDenied"), media.open(f"{unique}/denied.bin", "wb") as handle:
            for _ in range(8):
                handle.write(os.urandom(PART))
    assert storage().exists(f"{unique}/denied.bin") is False
    assert open_uploads(admin_client, unique) == []


@pytest.mark.parametrize(("size", "mode"), [(10, "wb"), (2 * PART + 1, "wb"), (10, "w"), (2 * PART + 1, "w")])
def test_a_writer_dropped_unclosed_stores_nothing(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, size: int, mode: str
) -> None:
    media = storage()
    handle = media.open(f"{unique}/dropped.bin", mode)
    handle.write(b"d" * size if mode == "wb" else "d" * size)  # the larger size: two parts sent
    with pytest.warns(ResourceWarning, match="discarded"):
        del handle
        gc.collect()
    assert media.exists(f"{unique}/dropped.bin") is False
    assert open_uploads(admin_client, unique) == []


@pytest.mark.parametrize("size", [10, 2 * PART + 1])
def test_a_taken_name_raises_file_exists_error(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, size: int
) -> None:
    media = storage()
    name = f"{unique}/taken.bin"
    put_bytes(admin_client, name, b"first")
    with pytest.raises(FileExistsError) as refused:
        media.open(name, "wb")  # one HEAD: refused before anything is written
    assert refused.value.filename == f"{PRIVATE_BUCKET}/{name}"
    assert "nothing was overwritten" in str(refused.value)

    later = f"{unique}/taken-meanwhile.bin"
    handle = media.open(later, "wb")
    handle.write(b"y" * size)
    put_bytes(admin_client, later, b"someone else's")  # created while this writer writes
    with pytest.raises(FileExistsError) as raced:
        handle.close()
    assert raced.value.filename == f"{PRIVATE_BUCKET}/{later}"
    assert stored_bytes(admin_client, name) == b"first"
    assert stored_bytes(admin_client, later) == b"someone else's"  # never renamed, never overwritten
    assert media.listdir(unique)[1] == ["taken-meanwhile.bin", "taken.bin"]
    assert open_uploads(admin_client, unique) == []


def test_a_replacing_storage_overwrites(live_settings: dict[str, Any], admin_client: Minio, unique: str) -> None:
    media = storage(replace_existing=True)
    name = f"{unique}/report.csv"
    put_bytes(admin_client, name, b"old")
    with media.open(name, "wb") as handle:
        handle.write(b"a,b\n1,2\n")
    assert stored_bytes(admin_client, name) == b"a,b\n1,2\n"


@pytest.mark.parametrize("mode", ["ab", "a", "a+", "r+", "rb+", "w+", "wb+", "x", "xb", "rw"])
def test_append_update_and_other_modes_are_refused(
    live_settings: dict[str, Any], counting_pool: CountingPoolManager, mode: str
) -> None:
    with pytest.raises(ValueError, match=f"not {re.escape(repr(mode))}: an object cannot be appended to or changed"):
        storage(MINIO_HTTP_CLIENT=counting_pool).open("any.bin", mode)
    assert counting_pool.requests == []


def test_memory_stays_within_workers_plus_one_parts(live_settings: dict[str, Any], unique: str) -> None:
    media = storage()  # 2 workers, 5 MiB parts
    media.exists("warm-up")
    piece = os.urandom(MiB)
    with peak_memory() as measured, media.open(f"{unique}/forty.bin", "wb") as handle:
        for _ in range(40):
            handle.write(piece)
    peak = measured.bytes
    assert peak <= (2 + 1) * PART + 2 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert media.size(f"{unique}/forty.bin") == 40 * MiB
