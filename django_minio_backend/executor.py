"""The process-wide, bounded thread pool for parallel transfers (multipart parts, collectstatic, ranges
read ahead).

One pool per process, created on first use and looked up at each use, so a forked child (which has
none of its parent's threads) builds its own; no upload ever starts threads of its own and the number
of worker threads never grows with traffic.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Final, NamedTuple

from .per_process import PerProcess

WORKER_PREFIX: Final = "minio-upload"  # the names of the pool's threads


class _SharedPool(NamedTuple):
    executor: ThreadPoolExecutor
    workers: int


_SHARED: Final = "shared"
_pool: PerProcess[str, _SharedPool] = PerProcess()


def _new_pool(workers: int) -> _SharedPool:
    return _SharedPool(ThreadPoolExecutor(max_workers=workers, thread_name_prefix=WORKER_PREFIX), workers)


def shared_executor(workers: int) -> ThreadPoolExecutor:
    """The shared pool; the first caller's worker count wins, later callers share it."""
    return _pool.get(_SHARED, _new_pool, workers).executor


def executor_workers() -> int:
    """How many workers the shared pool has (0 before first use in this process)."""
    found = _pool.find(_SHARED)
    return found.workers if found is not None else 0


def on_shared_pool() -> bool:
    """True in one of the shared pool's threads, where waiting for more work queued on the pool could deadlock it."""
    return threading.current_thread().name.startswith(WORKER_PREFIX)
