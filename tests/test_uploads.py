"""UploadBatch: the first failure names its object, waiting is bounded, stop() leaves nothing running."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from django_minio_backend.batch import UploadBatch, UploadFailed
from django_minio_backend.executor import executor_workers


def test_wait_returns_after_every_job() -> None:
    done: list[int] = []
    lock = threading.Lock()
    batch = UploadBatch(workers=2)

    def job(index: int) -> None:
        with lock:
            done.append(index)

    for index in range(50):
        batch.submit(f"file-{index}", partial(job, index))
    batch.wait()
    assert sorted(done) == list(range(50))


def test_a_failure_is_raised_naming_the_object() -> None:
    batch = UploadBatch(workers=2)

    def fail() -> None:
        raise PermissionError("denied")

    batch.submit("ok.css", lambda: None)
    batch.submit("bad.css", fail)
    with pytest.raises(UploadFailed, match=r"Could not upload 'bad.css': denied") as info:
        batch.wait()
    assert isinstance(info.value.__cause__, PermissionError)
    with pytest.raises(UploadFailed, match=r"'bad\.css'"):  # and every later call fails too
        batch.submit("later.css", lambda: None)


def test_submit_blocks_beyond_the_pending_bound() -> None:
    release = threading.Event()
    batch = UploadBatch(workers=1)
    bound = 4 * executor_workers()  # the shared pool may have been sized by an earlier user
    for index in range(bound):
        batch.submit(f"queued-{index}", partial(release.wait, 30))
    extra = threading.Thread(target=batch.submit, args=("one-more", partial(release.wait, 30)))
    extra.start()
    extra.join(timeout=0.2)
    assert extra.is_alive()  # held back by the bound
    release.set()
    extra.join(timeout=30)
    assert not extra.is_alive()
    batch.wait()


def test_stop_cancels_queued_jobs_and_waits_for_running_ones() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)
    ran: list[str] = []
    batch = UploadBatch(workers=1)
    workers = executor_workers()

    def blocked() -> None:
        started.release()
        release.wait(timeout=30)
        ran.append("blocked")

    for index in range(workers):
        batch.submit(f"running-{index}", blocked)
    for _ in range(workers):
        assert started.acquire(timeout=30)  # every worker is busy, so what follows stays queued
    for index in range(3):
        batch.submit(f"queued-{index}", partial(ran.append, "queued"))
    stopper = threading.Thread(target=batch.stop)
    stopper.start()
    stopper.join(timeout=0.2)
    assert stopper.is_alive()  # waiting for the running jobs
    release.set()
    stopper.join(timeout=30)
    assert ran == ["blocked"] * workers
