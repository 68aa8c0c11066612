"""Forked workers (gunicorn --preload, celery prefork) against the real server, with a real os.fork().

A child runs a function, reports a line of text through a pipe and leaves with os._exit(), so it never runs
pytest's teardown; the parent waits for it with a deadline and kills it when the deadline passes.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.files.base import ContentFile

from django_minio_backend import MinioBackend, MinioBackendStatic, upload
from django_minio_backend import connection as clients
from django_minio_backend.per_process import ForkSafeLock, PerProcess
from django_minio_backend.settings import MiB
from django_minio_backend.writer import WriterFile
from tests.helpers import fork_children, private_storage
from tests.settings import PRIVATE_BUCKET

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

SIZES = (1, 150_007, 250_009, MiB + 3, 5 * MiB + 1)
CHUNK = 64 * 1024  # small read chunks: all but the 1-byte object are read in ranges asked for ahead on the pool
CHILD_SAVES = (150_007, MiB + 3, 5 * MiB + 1)  # one streamed PUT each for the first two, multipart for the last
REPETITIONS = 20


def mismatch(name: str, got: bytes, expected: bytes) -> str:
    """'' when equal, else what differs."""
    if got == expected:
        return ""
    common = min(len(got), len(expected))
    first = next((index for index in range(common) if got[index] != expected[index]), common)
    return f"{name}: got {len(got)} bytes, expected {len(expected)}, first difference at byte {first}"


def forking_storage() -> MinioBackend:
    return private_storage(
        MINIO_READ_CHUNK_SIZE=CHUNK,
        MINIO_MULTIPART_UPLOAD=True,
        MINIO_MULTIPART_THRESHOLD=5 * MiB,
        MINIO_MULTIPART_PART_SIZE=5 * MiB,
        MINIO_READ_TIMEOUT=10.0,
    )


def read_back(storage: MinioBackend, name: str, expected: bytes, *, in_blocks: bool) -> str:
    """Read a whole object (in one read, or in 100,000-byte blocks), then a slice after a seek; '' when all match."""
    with storage.open(name) as handle:
        got = b"".join(iter(lambda: handle.read(100_000), b"")) if in_blocks else handle.read()
        problem = mismatch(name, got, expected)
        middle = len(expected) // 3
        handle.seek(middle)
        return problem or mismatch(f"{name}[{middle}:+4099]", handle.read(4099), expected[middle : middle + 4099])


@pytest.fixture(scope="module")
def blob() -> bytes:
    return os.urandom(6 * MiB)


def test_forked_children_read_and_write_their_own_bytes(
    live_settings: dict[str, Any], unique: str, blob: bytes
) -> None:
    """The parent saves and reads; 3 children at once read 5 objects of different sizes through the inherited
    storage and save one object each; every byte matches, in 20 rounds."""
    storage = forking_storage()
    payloads = {f"{unique}/{size}.bin": blob[size % 997 : size % 997 + size] for size in SIZES}
    for name, data in payloads.items():
        assert storage.save(name, ContentFile(data)) == name

    def child(round_: int, index: int) -> str:
        problems = [
            read_back(storage, name, data, in_blocks=(position + index) % 2 == 1)
            for position, (name, data) in enumerate(payloads.items())
        ]
        name = f"{unique}/child-{round_}-{index}.bin"
        saved = storage.save(name, ContentFile(child_bytes(blob, round_, index, CHILD_SAVES[index])))
        problems.append("" if saved == name else f"{name} saved as {saved}")
        return "; ".join(problem for problem in problems if problem) or "ok"

    for round_ in range(REPETITIONS):
        for position, (name, data) in enumerate(payloads.items()):  # the parent's pool now holds idle connections
            assert not read_back(storage, name, data, in_blocks=position % 2 == 0)
        storage.save(f"{unique}/parent-{round_}.txt", ContentFile(b"parent"))
        reports = fork_children(functools.partial(child, round_), len(CHILD_SAVES))
        assert all(report.ok for report in reports), f"round {round_}: {reports}"
        for index, size in enumerate(CHILD_SAVES):  # what the children stored, read by the parent
            name = f"{unique}/child-{round_}-{index}.bin"
            assert not read_back(storage, name, child_bytes(blob, round_, index, size), in_blocks=False)
            storage.delete(name)
    for name in payloads:
        storage.delete(name)


def child_bytes(blob: bytes, round_: int, index: int, size: int) -> bytes:
    start = round_ * 31 + index * 7
    return blob[start : start + size]


def test_static_listing_is_used_across_fork(live_settings: dict[str, Any], fresh_bucket: str, blob: bytes) -> None:
    """A static storage whose listing the parent used: each child lists through its own connections."""
    static = MinioBackendStatic(
        bucket_name=fresh_bucket, MINIO_STATIC_LISTING_TTL=0.001, MINIO_READ_CHUNK_SIZE=CHUNK, MINIO_READ_TIMEOUT=10.0
    )
    files = {f"css/{size}.css": blob[:size] for size in SIZES[:4]}
    for name, data in files.items():
        static.save(name, ContentFile(data))
    with static.holding_listing():
        assert {name: static.size(name) for name in files} == {name: len(data) for name, data in files.items()}

    def child(index: int) -> str:
        problems = []
        for _ in range(3):
            with static.holding_listing():  # the listing has expired: each hold lists the bucket again
                sizes = {name: static.size(name) for name in files}
                if sizes != {name: len(data) for name, data in files.items()}:
                    problems.append(f"listed sizes {sizes}")
                name, data = list(files.items())[index]
                with static.open(name) as handle:
                    problems.append(mismatch(name, handle.read(), data))
        saved = static.save(f"child/{index}.css", ContentFile(b"child %d" % index))
        with static.holding_listing():
            if not static.exists(saved):
                problems.append(f"{saved} not listed after its save")
        return "; ".join(problem for problem in problems if problem) or "ok"

    for round_ in range(10):
        with static.holding_listing():
            assert static.exists("css/1.css")
        with static.open("css/1048579.css") as handle:  # leaves idle connections in the parent's pool
            assert handle.read() == files["css/1048579.css"]
        reports = fork_children(child, 3)
        assert all(report.ok for report in reports), f"round {round_}: {reports}"


def test_writers_opened_before_fork_are_written_through_each_childs_own_pool(
    live_settings: dict[str, Any], unique: str, blob: bytes
) -> None:
    """Writers opened in the parent, while its shared executor and pool are in use, are written and closed in the
    children: each writer looks up the child's executor and connections when it first sends a part."""
    storage = forking_storage()  # 5 MiB parts
    storage.save(f"{unique}/warm.bin", ContentFile(blob))  # a multipart save: the parent's executor has threads
    writers = [storage.open(f"{unique}/written-{index}.bin", "wb") for index in range(3)]
    for writer in writers:
        assert isinstance(writer, WriterFile)
        writer.write(blob[:10])  # less than a part: nothing is sent yet

    def child(index: int) -> str:
        writer = writers[index]
        writer.write(blob[10:])  # 6 MiB in all: two parts, sent from the child
        writer.close()
        return "ok"

    reports = fork_children(child, len(writers))
    assert all(report.ok for report in reports), reports
    for index, writer in enumerate(writers):
        assert isinstance(writer, WriterFile)
        writer.abort()  # the parent's copy: nothing was sent from it
        assert not read_back(storage, f"{unique}/written-{index}.bin", blob, in_blocks=False)


def test_a_writer_that_sent_parts_is_refused_in_a_forked_child_and_finished_by_the_parent(
    live_settings: dict[str, Any], unique: str, blob: bytes
) -> None:
    """A writer's first part went up from the parent's threads before the fork: the child's copy refuses to go on
    (it used to wait forever for the parent's pool) and leaves the parent's upload alone, which the parent finishes."""
    storage = forking_storage()  # 5 MiB parts
    name = f"{unique}/crossing.bin"
    writer = storage.open(name, "wb")
    assert isinstance(writer, WriterFile)
    writer.write(blob[: 5 * MiB + 10])  # a byte past the first part: that part is sent from the parent

    def child(_: int) -> str:
        try:
            writer.write(blob[5 * MiB + 10 :])
            writer.close()
        except OSError as error:
            if "forked from" not in str(error):
                return f"unexpected {error!r}"
        else:
            return "the child's copy went on writing the parent's upload"
        writer.abort()  # the parent's upload is not the child's to abort
        return "ok"

    reports = fork_children(child, 2)
    assert all(report.ok for report in reports), reports
    writer.write(blob[5 * MiB + 10 :])
    writer.close()
    assert not read_back(storage, name, blob, in_blocks=False)


@contextmanager
def held_in_thread(lock: Any) -> Iterator[None]:
    """Another thread holds `lock` for the duration of the block (as a worker thread might when the process forks)."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            release.wait(60)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def test_fork_while_module_locks_are_held_does_not_hang_the_child(live_settings: dict[str, Any], unique: str) -> None:
    """A thread of the parent holds the striped completion lock of a name (and the client registry's lock) when
    the process forks: the child still completes a create-only multipart save of that name and builds a client."""
    storage = private_storage(MINIO_MULTIPART_UPLOAD=True, MINIO_MULTIPART_THRESHOLD=1)
    storage.save(f"{unique}/warm.txt", ContentFile(b"warm"))
    name = f"{unique}/striped.bin"
    stripe = upload._completion_lock(storage.settings.endpoint, PRIVATE_BUCKET, name)
    # not built yet: the child must take the registry's lock
    other_settings = private_storage(MINIO_CONNECT_TIMEOUT=2.5).settings

    def child(_: int) -> str:
        saved = storage.save(name, ContentFile(b"x" * 100))
        if saved != name:
            return f"saved as {saved}"
        clients.get_client(other_settings)
        return "ok"

    with held_in_thread(stripe), held_in_thread(registry_lock()):
        reports = fork_children(child, 1, deadline=30)
    assert reports[0].ok, reports
    with storage.open(name) as handle:
        assert handle.read() == b"x" * 100
    storage.delete(name)


def registry_lock() -> Any:
    """The lock guarding the process's client registry."""
    return clients._clients._lock


def test_a_registry_and_a_lock_start_fresh_in_a_forked_child() -> None:
    """What the package builds on: a child finds a registry empty and a lock held by a parent thread free."""
    registry: PerProcess[str, list[int]] = PerProcess()
    built = registry.get("pool", lambda: [os.getpid()])
    assert registry.get("pool", lambda: [-1]) is built  # built once per process
    lock = ForkSafeLock()

    def child(_: int) -> str:
        if registry.find("pool") is not None:
            return f"inherited {registry.find('pool')}"
        if registry.get("pool", lambda: [os.getpid()]) != [os.getpid()]:
            return "not built in the child"
        with lock:
            return "ok"

    with held_in_thread(lock):
        reports = fork_children(child, 2, deadline=30)
    assert all(report.ok for report in reports), reports
    assert registry.find("pool") is built
