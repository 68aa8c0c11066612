"""A batch of uploads on the shared pool, for bulk writers (collectstatic, manifest post-processing)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, FIRST_EXCEPTION, Future, wait

from .executor import executor_workers, shared_executor


class UploadFailed(OSError):
    """An upload of the batch failed; the message names the object."""


class UploadBatch:
    """Runs upload jobs on the process-wide pool; the first failure is raised, naming its object, by the next call.

    At most four jobs per pool worker are pending at once (submit() blocks beyond that), which bounds
    the memory of jobs holding their content. Jobs must not wait on the pool themselves, or they could starve it:
    callers keep uploads that use parallel parts on their own thread.
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        shared_executor(workers)
        self._max_pending = max(1, executor_workers()) * 4  # the pool's size: its first user chose it
        self._lock = threading.Lock()
        self._names: dict[Future[object], str] = {}
        self._pending: set[Future[object]] = set()
        self._failure: UploadFailed | None = None

    def submit(self, name: str, job: Callable[[], object]) -> None:
        self._raise_failure()
        while len(pending := self._snapshot()) >= self._max_pending:
            self._note(wait(pending, return_when=FIRST_COMPLETED).done)
            self._raise_failure()
        future = shared_executor(self._workers).submit(job)  # looked up at use, like every process-wide resource
        with self._lock:
            self._names[future] = name
            self._pending.add(future)
        future.add_done_callback(lambda done: self._note({done}))

    def wait(self) -> None:
        """Return once every job has finished; raise UploadFailed as soon as one has failed."""
        self._note(wait(self._snapshot(), return_when=FIRST_EXCEPTION).done)
        self._raise_failure()

    def stop(self) -> None:
        """Cancel what has not started and wait for what has, so nothing writes after the caller returns."""
        pending = self._snapshot()
        for future in pending:
            future.cancel()
        wait(pending)

    def _snapshot(self) -> list[Future[object]]:
        with self._lock:
            return list(self._pending)

    def _note(self, done: set[Future[object]]) -> None:
        """Forget finished jobs and keep the first failure (from a callback or a wait, whichever sees it first)."""
        with self._lock:
            for future in done:
                self._pending.discard(future)
                name = self._names.pop(future, None)
                if name is None or future.cancelled() or self._failure is not None:
                    continue
                error = future.exception()
                if error is not None:
                    self._failure = UploadFailed(f"Could not upload '{name}': {error}")
                    self._failure.__cause__ = error

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure
