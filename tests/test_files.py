"""The seekable, ranged file object returned by open(), against the real server."""

from __future__ import annotations

import gzip
import io
import itertools
import os
import random
import threading
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.http import FileResponse
from django.test import Client
from minio import Minio

from django_minio_backend import MinioBackend
from django_minio_backend.executor import executor_workers, shared_executor
from django_minio_backend.files import MinioFile
from django_minio_backend.ranged import FIRST_RANGE, READ_AHEAD_CHUNKS, READ_AHEAD_MAX_CHUNKS, ObjectChangedError
from django_minio_backend.settings import MiB
from tests.counting import CountingPoolManager
from tests.faultproxy import Action, FaultProxy, Relay, RequestHead
from tests.helpers import peak_memory, private_storage, put_bytes
from tests.servers import S3Server
from tests.settings import PRIVATE_BUCKET
from tests.testapp.models import Document

CHUNK = 1 * MiB


def storage(**options: Any) -> MinioBackend:
    """A private storage reading in CHUNK-sized ranges unless told otherwise."""
    options.setdefault("MINIO_READ_CHUNK_SIZE", CHUNK)
    return private_storage(**options)


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(9 * MiB + 321)


@pytest.fixture
def stored_name(live_settings: dict[str, Any], admin_client: Minio, unique: str, payload: bytes) -> str:
    name = f"{unique}/data.bin"
    put_bytes(admin_client, name, payload)
    return name


def test_random_ranged_reads_match_the_original(stored_name: str, payload: bytes) -> None:
    chosen = random.Random(1234)
    with storage().open(stored_name) as handle:
        assert isinstance(handle, MinioFile)
        assert handle.size == len(payload)
        for _ in range(60):
            offset = chosen.randrange(0, len(payload) + 10)
            length = chosen.choice([1, 100, 4096, CHUNK - 1, CHUNK + 1, 3 * CHUNK])
            handle.seek(offset)
            assert handle.read(length) == payload[offset : offset + length]
            assert handle.tell() == min(offset + length, max(offset, len(payload)))
        handle.seek(-50, io.SEEK_END)
        assert handle.read() == payload[-50:]
        handle.seek(10)
        handle.seek(5, io.SEEK_CUR)
        assert handle.read(5) == payload[15:20]
        with pytest.raises(ValueError):
            handle.seek(-1)


def test_first_kilobyte_of_a_large_object_costs_the_first_range(
    live_settings: dict[str, Any], s3_server: S3Server, stored_name: str, payload: bytes
) -> None:
    with FaultProxy(s3_server.endpoint) as proxy:
        with storage(MINIO_ENDPOINT=proxy.endpoint).open(stored_name) as handle:
            assert handle.read(1024) == payload[:1024]
        gets = [head for head in proxy.requests if head.method == "GET"]
        assert len(gets) == 1
        assert gets[0].headers["range"] == f"bytes=0-{FIRST_RANGE - 1}"
    assert proxy.bytes_to_client < FIRST_RANGE + 16 * 1024  # the first range and the response head, not a chunk


def gets(proxy: FaultProxy) -> list[str]:
    return [head.headers["range"] for head in proxy.requests if head.method == "GET"]


SMALL = 256 * 1024  # a chunk small enough that reading the payload in order takes several ranges
AHEAD = READ_AHEAD_CHUNKS * SMALL  # the first range of a sequential read after open()'s first range


def sequential_ranges(size: int, chunk: int = CHUNK) -> list[str]:
    """open()'s range (FIRST_RANGE, or a smaller chunk), then ranges of READ_AHEAD_CHUNKS chunks that double up
    to READ_AHEAD_MAX_CHUNKS, each asked for while the one before is read."""
    bounds = [0, min(chunk, FIRST_RANGE)]
    span = READ_AHEAD_CHUNKS * chunk
    while bounds[-1] < size:
        bounds.append(min(size, bounds[-1] + span))
        span = min(2 * span, READ_AHEAD_MAX_CHUNKS * chunk)
    return [f"bytes={start}-{end - 1}" for start, end in itertools.pairwise(bounds)]


def test_sequential_reading_asks_for_the_next_range_ahead(
    live_settings: dict[str, Any], s3_server: S3Server, stored_name: str, payload: bytes
) -> None:
    with FaultProxy(s3_server.endpoint) as proxy:
        media = storage(MINIO_ENDPOINT=proxy.endpoint, MINIO_READ_CHUNK_SIZE=SMALL)
        with media.open(stored_name) as handle:
            assert b"".join(handle.chunks(chunk_size=64 * 1024)) == payload
        with media.open(stored_name) as handle:
            assert handle.read() == payload
        ranges = gets(proxy)
    whole = sequential_ranges(len(payload), SMALL)
    first, ahead = FIRST_RANGE, FIRST_RANGE + AHEAD
    assert whole == [f"bytes=0-{first - 1}", f"bytes={first}-{ahead - 1}", f"bytes={ahead}-{len(payload) - 1}"]
    assert ranges == whole + whole


def test_a_long_sequential_read_asks_for_fewer_larger_ranges(
    live_settings: dict[str, Any], s3_server: S3Server, stored_name: str, payload: bytes
) -> None:
    """Each range asked for ahead is twice the one before, up to READ_AHEAD_MAX_CHUNKS chunks: a long read
    costs few requests (each is a signed request and a server round trip), and a short one asks for little."""
    chunk = 16 * 1024
    with FaultProxy(s3_server.endpoint) as proxy:
        with storage(MINIO_ENDPOINT=proxy.endpoint, MINIO_READ_CHUNK_SIZE=chunk).open(stored_name) as handle:
            assert b"".join(handle.chunks(chunk_size=MiB)) == payload
        ranges = gets(proxy)
    spans = [int(end) - int(start) + 1 for start, end in (found[6:].split("-") for found in ranges)]
    first = READ_AHEAD_CHUNKS * chunk
    assert spans[:6] == [chunk, first, 2 * first, 4 * first, 8 * first, READ_AHEAD_MAX_CHUNKS * chunk]
    assert spans[5:-1] == [READ_AHEAD_MAX_CHUNKS * chunk] * (len(spans) - 6)  # no larger than that
    assert ranges == sequential_ranges(len(payload), chunk)
    assert len(ranges) == 7  # fixed ranges of READ_AHEAD_CHUNKS chunks would take 37


def test_a_jump_asks_for_a_chunk_or_what_the_caller_wants(
    live_settings: dict[str, Any], s3_server: S3Server, stored_name: str, payload: bytes
) -> None:
    with FaultProxy(s3_server.endpoint) as proxy:
        with storage(MINIO_ENDPOINT=proxy.endpoint).open(stored_name) as handle:
            handle.seek(2 * MiB)
            assert handle.read(10) == payload[2 * MiB : 2 * MiB + 10]
            handle.seek(5 * MiB)
            assert handle.read(3 * MiB) == payload[5 * MiB : 8 * MiB]
            handle.seek(6 * MiB)
            assert handle.read(10) == payload[6 * MiB : 6 * MiB + 10]
        ranges = gets(proxy)
    assert ranges == [
        f"bytes=0-{FIRST_RANGE - 1}",  # open()
        f"bytes={2 * MiB}-{3 * MiB - 1}",  # a chunk
        f"bytes={5 * MiB}-{8 * MiB - 1}",  # what read() wants; random access: nothing is asked ahead
        f"bytes={6 * MiB}-{8 * MiB - 1}",  # back inside the last range: the rest of it
    ]


def test_a_dropped_range_resumes_and_keeps_the_range_asked_ahead(
    live_settings: dict[str, Any], s3_server: S3Server, stored_name: str, payload: bytes
) -> None:
    def decide(head: RequestHead) -> Action:
        if head.headers.get("range") == f"bytes={FIRST_RANGE}-{FIRST_RANGE + AHEAD - 1}":
            return Relay(cut_response_after=300 * 1024)
        return Relay()

    with FaultProxy(s3_server.endpoint, decide) as proxy:
        with storage(MINIO_ENDPOINT=proxy.endpoint, MINIO_READ_CHUNK_SIZE=SMALL).open(stored_name) as handle:
            assert b"".join(handle.chunks(chunk_size=64 * 1024)) == payload
        ranges = gets(proxy)
        assert proxy.resets == 1
    expected = sequential_ranges(len(payload), SMALL)
    resumed = [found for found in ranges if found not in expected]
    assert sorted(set(ranges) - set(resumed)) == sorted(expected)  # nothing asked twice...
    assert len(ranges) == len(expected) + 1
    ((start, end),) = [tuple(map(int, found.removeprefix("bytes=").split("-"))) for found in resumed]
    assert (
        FIRST_RANGE < start < FIRST_RANGE + AHEAD and end == FIRST_RANGE + AHEAD - 1
    )  # ...but the rest of the cut range


def test_reading_on_while_the_pool_is_busy(
    live_settings: dict[str, Any], s3_server: S3Server, stored_name: str, payload: bytes
) -> None:
    """A range asked for ahead that the busy shared pool has not started is asked for by the reader itself."""
    media = storage()
    pool = shared_executor(media.settings.upload_workers)
    release = threading.Event()
    blockers = [pool.submit(release.wait, 60) for _ in range(executor_workers())]
    try:
        with media.open(stored_name) as handle:
            assert handle.read() == payload
    finally:
        release.set()
    assert all(blocker.result() for blocker in blockers)


def test_whole_reads_line_iteration_and_text_mode_give_the_stored_content(
    live_settings: dict[str, Any], unique: str
) -> None:
    media = storage()
    lines = [f"line {index} ünïcode\n".encode() for index in range(200_000)]
    body = b"".join(lines)  # ~4 MiB, crossing several chunks
    name = media.save(f"{unique}/lines.txt", ContentFile(body))
    with media.open(name) as handle:
        assert handle.read() == body
        assert handle.read() == b""
    with media.open(name) as handle:
        assert list(handle) == lines
    with media.open(name, "r") as text:
        assert text.readline() == "line 0 ünïcode\n"
        assert text.read() == body.decode()[len("line 0 ünïcode\n") :]


def test_memory_is_bounded_by_the_chunk_size(live_settings: dict[str, Any], unique: str) -> None:
    media = storage()
    name = media.save(f"{unique}/twenty.bin", ContentFile(os.urandom(20 * MiB)))
    with media.open(name) as handle:
        with peak_memory() as measured:
            total = sum(len(chunk) for chunk in handle.chunks(chunk_size=256 * 1024))
        peak = measured.bytes
    assert total == 20 * MiB
    assert peak < 3 * CHUNK, f"peak {peak / MiB:.1f} MiB"


def test_small_and_empty_objects_cost_one_request(
    live_settings: dict[str, Any], unique: str, counting_pool: CountingPoolManager
) -> None:
    media = storage(MINIO_HTTP_CLIENT=counting_pool)
    for body in (b"", b"small body"):
        name = media.save(f"{unique}/file.bin", ContentFile(body))
        counting_pool.reset()
        with media.open(name) as handle:
            assert handle.size == len(body)
            assert handle.read() == body
            # no HEAD: the GET tells size and version
            assert [method for method, _ in counting_pool.requests] == ["GET"]
            assert b"".join(handle.chunks()) == body  # reading again fetches again
            handle.seek(0)
            assert list(handle) == ([body] if body else [])


def test_a_closed_file_refuses_reads_and_opens_again_from_the_start(stored_name: str, payload: bytes) -> None:
    handle = storage().open(stored_name)
    assert handle.read(10) == payload[:10]
    handle.close()
    assert handle.closed
    with pytest.raises(ValueError):
        handle.read(1)
    assert handle.open().read(10) == payload[:10]
    assert handle.open("rb").read(5) == payload[:5]  # open() on an open file goes back to the start
    handle.close()


def test_object_replaced_while_reading_fails_loudly(
    live_settings: dict[str, Any], admin_client: Minio, stored_name: str, payload: bytes
) -> None:
    with storage().open(stored_name) as handle:
        assert handle.read(10) == payload[:10]
        put_bytes(admin_client, stored_name, b"new")
        handle.seek(5 * MiB)
        with pytest.raises(ObjectChangedError):
            handle.read(10)


def test_dropped_download_connection_is_resumed(
    live_settings: dict[str, Any], s3_server: S3Server, stored_name: str, payload: bytes
) -> None:
    cuts = iter(range(2))

    def decide(head: RequestHead) -> Action:  # cut the first two GETs longer than the cut
        if (
            head.method == "GET"
            and head.headers["range"] != f"bytes=0-{FIRST_RANGE - 1}"
            and next(cuts, None) is not None
        ):
            return Relay(cut_response_after=300 * 1024)
        return Relay()

    with FaultProxy(s3_server.endpoint, decide) as proxy:
        with storage(MINIO_ENDPOINT=proxy.endpoint).open(stored_name) as handle:
            assert handle.read() == payload
        assert proxy.resets == 2


def test_compressed_objects_are_read_as_stored(live_settings: dict[str, Any], admin_client: Minio, unique: str) -> None:
    raw = gzip.compress(b"a" * 100_000)
    name = f"{unique}/page.html.gz"
    admin_client.put_object(
        bucket_name=PRIVATE_BUCKET,
        object_name=name,
        data=io.BytesIO(raw),
        length=len(raw),
        metadata={"Content-Encoding": "gzip"},
    )
    with storage().open(name) as handle:
        assert handle.size == len(raw)
        assert handle.read() == raw  # byte ranges refer to the stored bytes, never to a decoded stream


@pytest.mark.django_db
def test_file_response_streams_a_filefield(live_settings: dict[str, Any]) -> None:
    body = os.urandom(5 * MiB + 99)
    document = Document.objects.create(file=ContentFile(body, name="movie.bin"))
    response = Client().get(f"/download/{document.pk}/")
    assert isinstance(response, FileResponse)
    assert response["Content-Length"] == str(len(body))
    assert b"".join(response.streaming_content) == body
    with document.file.open("rb") as handle:
        assert handle.read(4) == body[:4]
        assert b"".join(handle.chunks()) == body
