"""Uploads against the real server: single PUT, parallel multipart, failures, retries and create-only saves."""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile, File
from minio import Minio
from minio.error import S3Error

from django_minio_backend import MinioBackend, parts
from django_minio_backend.executor import shared_executor
from django_minio_backend.parts import MAX_PARTS
from django_minio_backend.settings import MiB
from django_minio_backend.upload import MAX_SINGLE_PUT
from tests.counting import CountingPoolManager
from tests.faultproxy import Action, FaultProxy, Relay, RequestHead, s3_error
from tests.helpers import (
    MULTIPART,
    PART,
    RecordingBackend,
    Stream,
    as_io,
    open_uploads,
    peak_memory,
    put_bytes,
    stored_bytes,
)
from tests.servers import S3Server
from tests.settings import PRIVATE_BUCKET


def storage(**options: Any) -> RecordingBackend:
    return RecordingBackend(bucket_name=PRIVATE_BUCKET, storage_name="default", **options)


@pytest.fixture
def big_file(tmp_path: Path) -> Iterator[tuple[Path, bytes]]:
    payload = os.urandom(23 * MiB + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(payload)
    yield path, payload


def test_small_file_is_one_put_with_its_etag(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, counting_pool: CountingPoolManager
) -> None:
    media = storage(MINIO_HTTP_CLIENT=counting_pool)
    name = media.save(f"{unique}/small.txt", ContentFile(b"x" * 1000))
    assert [method for method, _ in counting_pool.requests] == ["PUT"]  # no exists() first: the write is create-only
    stat = admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=name)
    assert media.etags == {name: stat.etag}
    assert stat.content_type == "text/plain"
    assert stored_bytes(admin_client, name) == b"x" * 1000


def test_taken_name_costs_one_refused_put(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, counting_pool: CountingPoolManager
) -> None:
    media = storage(MINIO_HTTP_CLIENT=counting_pool)
    name = media.save(f"{unique}/small.txt", ContentFile(b"first"))
    counting_pool.reset()
    other = media.save(name, ContentFile(b"second"))
    assert other != name and other.startswith(f"{unique}/small_") and other.endswith(".txt")
    assert [(method, status) for method, _, status in counting_pool.answers] == [("PUT", 412), ("PUT", 200)]
    assert [url.rsplit("/", 1)[1] for _, url, _ in counting_pool.answers] == [
        name.rsplit("/", 1)[1],
        other.rsplit("/", 1)[1],
    ]
    assert stored_bytes(admin_client, name) == b"first"
    assert stored_bytes(admin_client, other) == b"second"


def test_large_or_one_shot_bodies_ask_before_sending(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, counting_pool: CountingPoolManager
) -> None:
    """A refused write would waste the whole upload (or could not be sent again): exists() first."""
    media = storage(MINIO_HTTP_CLIENT=counting_pool, **MULTIPART)
    taken = media.save(f"{unique}/taken.bin", ContentFile(b"first"))
    large = os.urandom(PART + 1)  # multipart
    one_shot = os.urandom(PART + 1)  # non-seekable and longer than a part: goes up in parts, cannot be sent twice
    stream = File(as_io(Stream(one_shot)), name="s")
    for content, payload in ((ContentFile(large), large), (stream, one_shot)):
        counting_pool.reset()
        name = media.save(taken, content)
        assert name != taken
        answers = [(method, status) for method, _, status in counting_pool.answers]
        assert answers[:2] == [("HEAD", 200), ("HEAD", 404)]  # the taken name, then its alternative
        assert all(status != 412 for _, status in answers)  # nothing was sent to the taken name
        assert stored_bytes(admin_client, name) == payload
    assert stored_bytes(admin_client, taken) == b"first"


def test_large_file_is_uploaded_in_parallel_parts_with_a_multipart_etag(
    live_settings: dict[str, Any],
    admin_client: Minio,
    unique: str,
    big_file: tuple[Path, bytes],
    counting_pool: CountingPoolManager,
) -> None:
    path, payload = big_file
    media = storage(MINIO_HTTP_CLIENT=counting_pool, **MULTIPART)
    with path.open("rb") as handle:
        name = media.save(f"{unique}/big.bin", File(handle))
    parts = [url for method, url in counting_pool.requests if method == "PUT" and "partNumber=" in url]
    assert len(parts) == 5  # 23 MiB in 5 MiB parts
    upload_calls = [method for method, url in counting_pool.requests if "uploads" in url or "uploadId=" in url]
    assert upload_calls.count("POST") == 2
    stat = admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=name)
    assert stat.size == len(payload)
    assert media.etags[name] == stat.etag and stat.etag is not None and stat.etag.endswith("-5")
    assert stat.content_type == "application/octet-stream"
    assert stored_bytes(admin_client, name) == payload


def test_below_threshold_is_a_single_streamed_put(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, counting_pool: CountingPoolManager
) -> None:
    media = storage(MINIO_HTTP_CLIENT=counting_pool, **{**MULTIPART, "MINIO_MULTIPART_THRESHOLD": 8 * MiB})
    payload = os.urandom(7 * MiB)
    name = media.save(f"{unique}/seven.bin", ContentFile(payload))
    assert [method for method, _ in counting_pool.requests] == ["HEAD", "PUT"]
    assert stored_bytes(admin_client, name) == payload


def test_multipart_off_streams_any_size_in_one_put(
    live_settings: dict[str, Any],
    admin_client: Minio,
    unique: str,
    big_file: tuple[Path, bytes],
    counting_pool: CountingPoolManager,
) -> None:
    path, payload = big_file
    media = storage(MINIO_HTTP_CLIENT=counting_pool)
    with path.open("rb") as handle:
        name = media.save(f"{unique}/one.bin", File(handle))
    assert [method for method, _ in counting_pool.requests] == ["HEAD", "PUT"]
    assert stored_bytes(admin_client, name) == payload


@pytest.mark.parametrize("size", [0, 100_000, PART, 12 * MiB + 7])
def test_non_seekable_sources_are_stored_whole_with_their_etag(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, size: int
) -> None:
    payload = os.urandom(size)
    media = storage(**MULTIPART)
    name = media.save(f"{unique}/stream.bin", File(as_io(Stream(payload)), name="stream.bin"))
    assert stored_bytes(admin_client, name) == payload
    assert media.etags[name] == admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=name).etag


def test_text_content_is_stored_as_utf8(live_settings: dict[str, Any], admin_client: Minio, unique: str) -> None:
    name = storage().save(f"{unique}/note.txt", ContentFile("héllo wörld"))
    assert stored_bytes(admin_client, name) == "héllo wörld".encode()


def test_failing_source_aborts_upload_and_leaks_no_threads(
    live_settings: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    media = storage(**MULTIPART)
    payload = os.urandom(30 * MiB)
    media.save(f"{unique}/warm.bin", File(as_io(Stream(payload[: 11 * MiB])), name="w"))  # starts the shared pool
    threads_before = threading.active_count()
    for attempt in range(5):
        error = OSError(f"disk gone {attempt}")
        source = Stream(payload, fail_at=12 * MiB + 1, error=error)
        with pytest.raises(OSError) as info:
            media.save(f"{unique}/broken-{attempt}.bin", File(as_io(source), name="b"))
        assert info.value is error  # the caller gets the source's own exception
        assert source.read_bytes <= 13 * MiB  # reading stopped at the failure
    assert threading.active_count() == threads_before
    assert open_uploads(admin_client, f"{unique}/broken") == []
    assert media.listdir(unique)[1] == ["warm.bin"]


def test_memory_stays_within_workers_plus_one_parts(live_settings: dict[str, Any], unique: str, tmp_path: Path) -> None:
    path = tmp_path / "forty.bin"
    path.write_bytes(os.urandom(40 * MiB))
    media = storage(**MULTIPART)  # 2 workers, 5 MiB parts
    media.exists("warm-up")
    with peak_memory() as measured, path.open("rb") as handle:
        media.save(f"{unique}/forty.bin", File(handle))
    peak = measured.bytes
    assert peak <= (2 + 1) * PART + 2 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert media.size(f"{unique}/forty.bin") == 40 * MiB


def test_the_next_upload_reuses_the_part_buffers(
    live_settings: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    """A fresh part buffer costs a page fault per 4 KiB: the buffers of one upload serve the next one in the
    process, which allocates none, and each upload stores its own bytes."""
    media = storage(**MULTIPART)
    first, second = os.urandom(3 * PART + 5), os.urandom(3 * PART + 7)
    media.save(f"{unique}/first.bin", ContentFile(first))
    with peak_memory() as measured:
        name = media.save(f"{unique}/second.bin", ContentFile(second))
    peak = measured.bytes
    assert peak < PART, f"peak {peak / MiB:.1f} MiB: a part buffer was allocated"
    assert stored_bytes(admin_client, f"{unique}/first.bin") == first
    assert stored_bytes(admin_client, name) == second


def test_spare_part_buffers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most SPARE_BYTES of buffers are kept between uploads, all of the latest part size."""
    monkeypatch.setattr(parts, "SPARE_BYTES", 10 * 1024)
    spares = parts._SpareParts()
    kept = [bytearray(1024) for _ in range(12)]
    for buffer in kept:
        spares.keep(buffer)
    taken = [spares.take(1024) for _ in range(12)]
    assert sum(any(buffer is mine for mine in kept) for buffer in taken) == 10  # two were let go
    spares.keep(bytearray(2048))  # another part size: the smaller buffers are let go
    assert not any(spares.take(1024) is mine for mine in kept)
    assert len(spares.take(2048)) == 2048


def test_dropped_connections_are_retried(
    live_settings: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str, big_file: tuple[Path, bytes]
) -> None:
    path, payload = big_file
    cuts = iter(range(3))

    def decide(head: RequestHead) -> Action:
        big_body = "partNumber=" in head.target or (head.method == "PUT" and head.length > MiB)
        if big_body and next(cuts, None) is not None:
            return Relay(cut_request_after=MiB)
        return Relay()

    with FaultProxy(s3_server.endpoint, decide) as proxy:
        media = storage(MINIO_ENDPOINT=proxy.endpoint, **MULTIPART)
        with path.open("rb") as handle:
            name = media.save(f"{unique}/parts.bin", File(handle))
        with path.open("rb") as handle:  # a create-only single PUT cut mid-body is sent again too
            single = storage(MINIO_ENDPOINT=proxy.endpoint).save(f"{unique}/single.bin", File(handle))
        assert proxy.resets == 3
    assert stored_bytes(admin_client, name) == payload
    assert stored_bytes(admin_client, single) == payload


def test_busy_server_is_retried_after_its_delay(
    live_settings: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str
) -> None:
    busy = iter(range(3))

    def decide(head: RequestHead) -> Action:
        if "partNumber=" in head.target and next(busy, None) is not None:
            return s3_error(503, "Slow Down", "SlowDown", retry_after="0")
        return Relay()

    payload = os.urandom(11 * MiB)
    with FaultProxy(s3_server.endpoint, decide) as proxy:
        name = storage(MINIO_ENDPOINT=proxy.endpoint, **MULTIPART).save(f"{unique}/busy.bin", ContentFile(payload))
        assert sum("partNumber=" in head.target for head in proxy.requests) == 3 + 3
    assert stored_bytes(admin_client, name) == payload


CHECKSUM_REFUSALS = {"BadDigest", "XAmzContentChecksumMismatch"}  # S3 and SeaweedFS; MinIO


def test_a_part_corrupted_on_the_way_is_refused_and_sent_again(
    live_settings: dict[str, Any],
    s3_server: S3Server,
    admin_client: Minio,
    unique: str,
    counting_pool: CountingPoolManager,
) -> None:
    """Over plain HTTP a part carries its checksum, which the server checks: a byte flipped on the way is
    refused instead of stored, and the part is sent again."""
    corrupt = iter(range(1))

    def decide(head: RequestHead) -> Action:
        if "partNumber=2" in head.target and next(corrupt, None) is not None:
            return Relay(flip_request_byte_at=PART // 2)
        return Relay()

    payload = os.urandom(11 * MiB)
    with FaultProxy(s3_server.endpoint, decide) as proxy:
        media = storage(MINIO_ENDPOINT=proxy.endpoint, MINIO_HTTP_CLIENT=counting_pool, **MULTIPART)
        name = media.save(f"{unique}/parts.bin", ContentFile(payload))
    second = [status for method, url, status in counting_pool.answers if method == "PUT" and "partNumber=2" in url]
    assert second == [400, 200]
    assert stored_bytes(admin_client, name) == payload


def test_a_put_corrupted_on_every_attempt_fails_and_stores_nothing(
    live_settings: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str
) -> None:
    """A stream of unknown length that fits in one part is read into memory and goes up in one PUT with its
    checksum; a link that corrupts every attempt makes the save fail with the server's refusal, and nothing is
    stored."""

    def decide(head: RequestHead) -> Action:
        return Relay(flip_request_byte_at=10) if head.method == "PUT" else Relay()

    with FaultProxy(s3_server.endpoint, decide) as proxy:
        media = storage(MINIO_ENDPOINT=proxy.endpoint)
        with pytest.raises(S3Error) as info:
            media.save(f"{unique}/small.txt", File(as_io(Stream(os.urandom(1000))), name="s"))
        assert info.value.code in CHECKSUM_REFUSALS
        assert sum(head.method == "PUT" for head in proxy.requests) == 4  # sent again: the server stored nothing
    assert not storage().exists(f"{unique}/small.txt")


def test_persistent_failure_raises_and_aborts(
    live_settings: dict[str, Any], s3_server: S3Server, admin_client: Minio, unique: str
) -> None:
    def decide(head: RequestHead) -> Action:
        if "partNumber=2" in head.target:
            return s3_error(403, "Forbidden", "AccessDenied")
        return Relay()

    source = Stream(os.urandom(40 * MiB))
    with FaultProxy(s3_server.endpoint, decide) as proxy:
        media = storage(MINIO_ENDPOINT=proxy.endpoint, **MULTIPART)
        with pytest.raises(S3Error) as info:
            media.save(f"{unique}/denied.bin", File(as_io(source), name="d"))
        assert info.value.code == "AccessDenied"
        assert sum("partNumber=2" in head.target for head in proxy.requests) == 1  # not a transient error
        assert any(head.method == "DELETE" and "uploadId=" in head.target for head in proxy.requests)
    assert source.read_bytes < 40 * MiB  # the failure stopped reading
    assert open_uploads(admin_client, unique) == []
    assert not storage().exists(f"{unique}/denied.bin")


def test_create_only_write_never_overwrites(media: MinioBackend, admin_client: Minio, unique: str) -> None:
    name = media.save(f"{unique}/taken.txt", ContentFile(b"first"))
    # _save skips Django's exists() check, as a concurrent saver that passed it would.
    other = media._save(name, ContentFile(b"second"))
    assert other != name and other.startswith(f"{unique}/taken_") and other.endswith(".txt")
    assert stored_bytes(admin_client, name) == b"first"
    assert stored_bytes(admin_client, other) == b"second"


class TakenMidway(io.BytesIO):
    """A seekable source; once the upload has read past its first part, someone else creates the name."""

    def __init__(self, data: bytes, take: Callable[[], None]) -> None:
        super().__init__(data)
        self._take: Callable[[], None] | None = take

    def readinto(self, buffer: Any) -> int:
        if self._take is not None and self.tell() >= PART:
            take, self._take = self._take, None
            take()
        return super().readinto(buffer)


class OneShotTakenMidway(Stream):
    """The same, over a stream that cannot be read twice."""

    def __init__(self, data: bytes, take: Callable[[], None]) -> None:
        super().__init__(data)
        self._take: Callable[[], None] | None = take

    def readinto(self, buffer: Any) -> int:
        if self._take is not None and self.read_bytes >= PART:
            take, self._take = self._take, None
            take()
        return super().readinto(buffer)


def test_create_only_multipart_never_overwrites(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, big_file: tuple[Path, bytes]
) -> None:
    _, payload = big_file
    media = storage(**MULTIPART)
    name = f"{unique}/taken.bin"

    def take() -> None:  # a concurrent saver that passed the same exists() check
        put_bytes(admin_client, name, b"first")

    other = media.save(name, File(TakenMidway(payload, take), name="t"))
    assert other != name
    assert stored_bytes(admin_client, name) == b"first"
    assert stored_bytes(admin_client, other) == payload
    assert open_uploads(admin_client, unique) == []
    admin_client.remove_object(bucket_name=PRIVATE_BUCKET, object_name=name)
    with pytest.raises(FileExistsError, match="cannot be read again"):  # a spent stream cannot go elsewhere
        media.save(name, File(as_io(OneShotTakenMidway(payload, take)), name="s"))
    assert stored_bytes(admin_client, name) == b"first"
    assert open_uploads(admin_client, unique) == []


@pytest.mark.parametrize("size", [64 * 1024, 6 * MiB])
def test_concurrent_saves_of_one_name_all_survive(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, size: int
) -> None:
    media = storage(**MULTIPART)
    payloads = [bytes([index]) * size for index in range(8)]
    start = threading.Barrier(8)

    def save(payload: bytes) -> str:
        start.wait()
        return media.save(f"{unique}/same.bin", ContentFile(payload))

    with ThreadPoolExecutor(max_workers=8) as pool:
        names = list(pool.map(save, payloads))
    assert len(set(names)) == 8
    for name, payload in zip(names, payloads, strict=True):
        assert stored_bytes(admin_client, name) == payload
    assert sorted(media.listdir(unique)[1]) == sorted(name.rsplit("/", 1)[1] for name in names)


def test_replace_existing_overwrites_in_one_write(
    live_settings: dict[str, Any], admin_client: Minio, unique: str, counting_pool: CountingPoolManager
) -> None:
    media = storage(MINIO_HTTP_CLIENT=counting_pool, replace_existing=True)
    name = media.save(f"{unique}/r.txt", ContentFile(b"old"))
    counting_pool.reset()
    assert media.save(name, ContentFile(b"new")) == name
    assert [method for method, _ in counting_pool.requests] == ["PUT"]
    assert stored_bytes(admin_client, name) == b"new"


def test_servers_without_conditional_writes_fall_back_once(
    live_settings: dict[str, Any],
    s3_server: S3Server,
    admin_client: Minio,
    unique: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def decide(head: RequestHead) -> Action:
        if "if-none-match" in head.headers:
            return s3_error(501, "Not Implemented", "NotImplemented")
        return Relay()

    big = os.urandom(11 * MiB)
    old = f"{unique}/old.bin"
    put_bytes(admin_client, old, b"old")
    with FaultProxy(s3_server.endpoint, decide) as proxy, caplog.at_level(logging.WARNING):
        media = storage(MINIO_ENDPOINT=proxy.endpoint, **MULTIPART)
        renamed = media.save(old, ContentFile(b"new"))  # refused, then checked with exists(): taken
        first = media.save(f"{unique}/a.bin", ContentFile(b"a"))
        second = media.save(f"{unique}/a.bin", ContentFile(b"b"))  # renamed by the exists() check
        third = media.save(f"{unique}/big.bin", ContentFile(big))
        conditional = sum("if-none-match" in head.headers for head in proxy.requests)
    assert conditional == 1  # asked once, then remembered
    assert [record.message for record in caplog.records].count(caplog.records[0].message) == 1
    assert "conditional writes" in caplog.records[0].message
    assert renamed != old and stored_bytes(admin_client, old) == b"old"
    assert stored_bytes(admin_client, renamed) == b"new"
    assert first == f"{unique}/a.bin" and second != first
    assert (stored_bytes(admin_client, first), stored_bytes(admin_client, second)) == (b"a", b"b")
    assert stored_bytes(admin_client, third) == big


def test_upload_from_a_shared_pool_worker_does_not_deadlock(live_settings: dict[str, Any], unique: str) -> None:
    """Saves run on the shared pool itself (as collectstatic may) send their parts inline."""
    media = storage(**MULTIPART)
    pool = shared_executor(media.settings.upload_workers)
    payload = os.urandom(11 * MiB)
    futures = [pool.submit(media.save, f"{unique}/pooled-{index}.bin", ContentFile(payload)) for index in range(6)]
    names = [future.result(timeout=120) for future in futures]
    assert all(media.size(name) == len(payload) for name in names)


def test_part_size_grows_for_huge_files(live_settings: dict[str, Any]) -> None:
    media = storage(**MULTIPART)
    uploader = media._uploader
    assert uploader._part_size(100 * MiB) == PART
    huge = PART * MAX_PARTS + 1
    grown = uploader._part_size(huge)
    assert grown % MiB == 0 and grown * MAX_PARTS >= huge
    plain = storage()._uploader  # multipart off: still multipart past S3's PUT limit
    assert not plain._use_multipart(MAX_SINGLE_PUT)
    assert plain._use_multipart(MAX_SINGLE_PUT + 1)
    assert not uploader._use_multipart(0)
