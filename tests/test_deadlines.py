"""Deadlines: every metadata call ends within MINIO_REQUEST_DEADLINE whatever the server does, transfers that keep
making progress are never cut off, and a dead S3 or a frozen cache does not slow url(), save() or delete().

Run against the real server through tests/faultproxy.py and a real redis-server. The calls that must hit the
default 30 s deadline all run at once, in threads of one test, so the suite pays for it once.
"""

from __future__ import annotations

import functools
import io
import math
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any, cast

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile, File
from minio.error import ServerError

from django_minio_backend import MinioBackend
from django_minio_backend.settings import MiB
from django_minio_backend.urlcache import shared_cache
from tests.faultproxy import Action, BlackHole, FaultProxy, Relay, RequestHead, Trickle, s3_error
from tests.helpers import RecordingCache, cache_prefix, private_storage
from tests.servers import S3Server, free_ports, start_redis
from tests.settings import PRIVATE_BUCKET

DEADLINE = 30.0  # the default MINIO_REQUEST_DEADLINE; the tests keep the default connect (5 s) and read (60 s) too
SLACK = 5.0  # thread start-up and a loaded machine


@dataclass
class Outcome:
    """What one call did: `elapsed` stays None while it is still running."""

    elapsed: float | None = None
    value: object = None
    error: BaseException | None = None

    def __str__(self) -> str:
        if self.elapsed is None:
            return "still running"
        value = f"<{len(self.value)} bytes>" if isinstance(self.value, bytes) else repr(self.value)
        return f"{self.elapsed:.1f}s, " + (f"raised {self.error!r}" if self.error else f"returned {value}")


def run_at_once(calls: Mapping[str, Callable[[], object]], wait: float) -> dict[str, Outcome]:
    """Start every call in its own thread and wait until all have ended or `wait` seconds have passed."""
    outcomes = {label: Outcome() for label in calls}

    def run(label: str, call: Callable[[], object]) -> None:
        started = time.monotonic()
        outcome = outcomes[label]
        try:
            outcome.value = call()
        except BaseException as error:  # noqa: BLE001 - recorded for the assertions
            outcome.error = error
        outcome.elapsed = time.monotonic() - started

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in calls.items()]
    for thread in threads:
        thread.start()
    end = time.monotonic() + wait
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    return outcomes


def report(outcomes: Mapping[str, Outcome]) -> str:
    return "\n".join(f"{label}: {outcome}" for label, outcome in outcomes.items())


# --- item 6 (and 5): metadata calls and single requests end within the deadline ---------------------------------------


@pytest.mark.slow
def test_calls_end_within_the_deadline_whatever_the_server_does(
    live_settings: dict[str, Any], s3_server: S3Server, media: MinioBackend, unique: str
) -> None:
    name = media.save(f"{unique}/present.txt", ContentFile(b"present"))
    hole = FaultProxy(s3_server.endpoint, lambda head: BlackHole())
    trickle = FaultProxy(s3_server.endpoint, lambda head: Trickle(0.5))
    busy = FaultProxy(s3_server.endpoint, lambda head: s3_error(503, "Slow Down", "SlowDown", retry_after="120"))
    with hole, trickle, busy:
        calls: dict[str, Callable[[], object]] = {}
        for fault, proxy in (("black hole", hole), ("trickle", trickle)):
            bad = private_storage(MINIO_ENDPOINT=proxy.endpoint)
            calls[f"exists, {fault}"] = functools.partial(bad.exists, name)
            calls[f"size, {fault}"] = functools.partial(bad.size, name)
            calls[f"get_modified_time, {fault}"] = functools.partial(bad.get_modified_time, name)
            calls[f"delete, {fault}"] = functools.partial(bad.delete, f"{unique}/absent.txt")
            calls[f"listdir, {fault}"] = functools.partial(bad.listdir, unique)
            calls[f"save, {fault}"] = functools.partial(bad.save, f"{unique}/new.txt", ContentFile(b"small"))
            calls[f"open, {fault}"] = functools.partial(bad.open, name)
            calls[f"is_minio_available, {fault}"] = bad.is_minio_available
        slow_down = private_storage(MINIO_ENDPOINT=busy.endpoint)  # SlowDown with MinIO's Retry-After of 120 s
        calls["exists, slow down"] = functools.partial(slow_down.exists, name)
        calls["open, slow down"] = functools.partial(slow_down.open, name)
        outcomes = run_at_once(calls, DEADLINE + SLACK)
        late = {label: str(outcome) for label, outcome in outcomes.items() if outcome.elapsed is None}
        busy_methods = [head.method for head in busy.requests]
    assert not late, report(outcomes)
    for label, outcome in outcomes.items():
        assert outcome.elapsed is not None and outcome.elapsed <= DEADLINE + SLACK, report(outcomes)
        if label.startswith("is_minio_available"):
            assert outcome.error is None and not outcome.value, report(outcomes)  # an answer, never an exception
        elif label == "exists, slow down":  # the SDK's own retries waited 10 s each, not 120 s: three tries,
            assert isinstance(outcome.error, ServerError), report(outcomes)  # then the server's answer (a HEAD's
            assert outcome.error.status_code == 503  # has no body to tell SlowDown)
        else:  # a clear timeout naming the call and the deadline, never "not found" or a value
            assert isinstance(outcome.error, TimeoutError), report(outcomes)
            assert "MINIO_REQUEST_DEADLINE (30s)" in str(outcome.error), report(outcomes)
            assert not isinstance(outcome.error, FileNotFoundError)
    assert busy_methods.count("HEAD") == 3, busy_methods
    assert busy_methods.count("GET") == 3, busy_methods  # retried after 10 s twice; a third wait would pass 30 s


def test_sdk_retries_survive_a_malformed_retry_after(
    live_settings: dict[str, Any], s3_server: S3Server, media: MinioBackend, unique: str
) -> None:
    """A Retry-After that is neither seconds nor a date means "back off as usual", not a crash."""
    name = media.save(f"{unique}/present.txt", ContentFile(b"present"))
    answers = iter([s3_error(503, "Slow Down", "SlowDown", retry_after="soon"), s3_error(503, "Slow Down", "SlowDown")])

    def decide(head: RequestHead) -> Action:
        return next(answers, Relay())

    with FaultProxy(s3_server.endpoint, decide) as proxy:
        assert private_storage(MINIO_ENDPOINT=proxy.endpoint).exists(name)
        assert [head.method for head in proxy.requests] == ["HEAD", "HEAD", "HEAD"]


def test_transfers_that_keep_making_progress_are_not_cut_off(
    live_settings: dict[str, Any], s3_server: S3Server, media: MinioBackend, unique: str
) -> None:
    deadline = 1.0
    payload = os.urandom(2 * MiB)
    name = media.save(f"{unique}/steady.bin", ContentFile(payload))
    # The server sends 16 KiB every 30 ms: about 4 s for the object, far longer than the deadline, but steadily.
    with FaultProxy(s3_server.endpoint, lambda head: Trickle(0.03, 16 * 1024)) as steady:
        through_steady = private_storage(MINIO_ENDPOINT=steady.endpoint, MINIO_REQUEST_DEADLINE=deadline)
        direct = private_storage(MINIO_REQUEST_DEADLINE=deadline)

        def slow_server() -> bytes:
            with through_steady.open(name) as handle:
                data: bytes = handle.read()
                return data

        def slow_reader() -> bytes:  # like a FileResponse sent to a slow client: pauses between reads
            pieces = []
            with direct.open(name) as handle:
                while piece := handle.read(512 * 1024):
                    pieces.append(piece)
                    time.sleep(0.6)
            return b"".join(pieces)

        def slow_source() -> bytes:  # a streamed PUT whose body takes longer to produce than the deadline
            source = cast(IO[bytes], SlowStream(payload[: 512 * 1024], 0.2))
            saved = direct.save(f"{unique}/slow-source.bin", File(source))
            with media.open(saved) as handle:
                data: bytes = handle.read()
                return data

        outcomes = run_at_once(
            {"slow server": slow_server, "slow reader": slow_reader, "slow source": slow_source}, wait=60
        )
    for label, outcome in outcomes.items():
        assert outcome.error is None, report(outcomes)
        assert outcome.elapsed is not None and outcome.elapsed > deadline, report(outcomes)  # it really took longer
        assert outcome.value == (payload[: 512 * 1024] if label == "slow source" else payload), label


class SlowStream(io.RawIOBase):
    """A seekable source that takes `pause` seconds for every 64 KiB it gives."""

    def __init__(self, data: bytes, pause: float) -> None:
        super().__init__()
        self._data = data
        self._position = 0
        self._pause = pause

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._position = offset if whence == io.SEEK_SET else len(self._data) + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        piece = self._data[self._position : self._position + min(len(view), 64 * 1024)]
        if piece:
            time.sleep(self._pause)
        view[: len(piece)] = piece
        self._position += len(piece)
        return len(piece)


@pytest.mark.parametrize("value", [0, -1.0, math.inf, math.nan])
def test_deadline_must_be_positive_and_finite(media: MinioBackend, value: float) -> None:
    with pytest.raises(ImproperlyConfigured, match="MINIO_REQUEST_DEADLINE"):
        _ = private_storage(MINIO_REQUEST_DEADLINE=value).settings


def test_forked_child_keeps_its_deadlines(live_settings: dict[str, Any], s3_server: S3Server, unique: str) -> None:
    """The watchdog that cuts trickling answers is per process: a child forked after the parent used it
    gets its own (a thread does not survive fork)."""
    with FaultProxy(s3_server.endpoint, lambda head: Trickle(0.5)) as trickle:
        bad = private_storage(MINIO_ENDPOINT=trickle.endpoint, MINIO_REQUEST_DEADLINE=1.0)
        with pytest.raises(TimeoutError):
            bad.exists(f"{unique}/a.txt")  # the parent's watchdog is running now
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what exists() did and how long it took
            try:
                started = time.monotonic()
                try:
                    bad.exists(f"{unique}/b.txt")
                    result = "returned"
                except TimeoutError:
                    result = "timeout"
                os.write(write_end, f"{result} {time.monotonic() - started:.1f}".encode())
            finally:
                os._exit(0)
        os.close(write_end)
        ready, _, _ = select.select([read_end], [], [], 1.0 + SLACK)
        found = os.read(read_end, 100).decode() if ready else ""
        if not found:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_end)
    assert found, "the child's exists() was still running"
    result, seconds = found.split()
    assert result == "timeout" and float(seconds) <= 1.0 + SLACK


# --- item 7: url() while S3 is black-holed ----------------------------------------------------------------------------


def test_url_stays_fast_while_s3_is_black_holed(
    live_settings: dict[str, Any], s3_server: S3Server, unique: str
) -> None:
    deadline = 2.0
    with FaultProxy(s3_server.endpoint, lambda head: BlackHole()) as hole:
        options: dict[str, Any] = {
            "MINIO_ENDPOINT": hole.endpoint,
            "MINIO_URL_CACHING_ENABLED": True,
            "MINIO_URL_CACHE_BACKEND": "lru",
            "MINIO_URL_CACHE_PREFIX": f"{unique}_",
            "MINIO_REQUEST_DEADLINE": deadline,
        }
        # two instances: the back-off is per endpoint
        first, second = private_storage(**options), private_storage(**options)

        def urls() -> list[str]:
            return [(first if index % 2 else second).url(f"{unique}/{index}.txt") for index in range(50)]

        outcomes = run_at_once({"50 url() calls": urls}, wait=2 * deadline + SLACK)
        heads = [head for head in hole.requests if head.method == "HEAD"]
    (outcome,) = outcomes.values()
    assert outcome.error is None and outcome.elapsed is not None, report(outcomes)
    assert len(heads) == 1, f"{len(heads)} HEADs; {report(outcomes)}"  # one failure, then signed without the ETag
    assert isinstance(outcome.value, list) and len(outcome.value) == 50
    assert all(f"/{PRIVATE_BUCKET}/{unique}/" in url and "X-Amz-Signature=" in url for url in outcome.value)


# --- item 9: saves and deletes while Redis is frozen ------------------------------------------------------------------


def test_saves_and_deletes_skip_a_frozen_redis(live_settings: dict[str, Any], unique: str) -> None:
    (port,) = free_ports(1)
    redis_server = start_redis(port=port)
    assert redis_server.process is not None
    try:
        cached = private_storage(
            MINIO_URL_CACHING_ENABLED=True,
            MINIO_URL_CACHE_BACKEND="redis",
            MINIO_URL_CACHE_REDIS_URL=redis_server.url,
            MINIO_URL_CACHE_PREFIX=cache_prefix(),
        )
        kept = cached.save(f"{unique}/kept.txt", ContentFile(b"kept"))
        shared = shared_cache(cached.settings)
        recorder = RecordingCache(shared.cache)
        shared.cache = recorder
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            cached.save(f"{unique}/first.txt", ContentFile(b"1"))  # the cache times out here: marked failed
            assert shared.retry_at, "a cache write that timed out must put the cache in back-off"
            recorder.calls.clear()
            url = cached.url(kept)
            cached.save(f"{unique}/second.txt", ContentFile(b"2"))
            cached.delete(kept)
            assert recorder.calls == [], recorder.calls  # nothing waits on the frozen cache during the back-off
            assert "X-Amz-Signature=" in url
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
    finally:
        redis_server.stop()
