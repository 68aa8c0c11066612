"""The process-wide, bounded thread pool for parallel transfers (multipart parts, collectstatic, ranges
read ahead).

One pool per process, created on first use and rebuilt in a forked child, so no upload ever
starts threads of its own and the number of worker threads never grows with traffic.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_workers = 0


def shared_executor(workers: int) -> ThreadPoolExecutor:
    """The shared pool; the first caller's worker count wins, later callers share it."""
    global _pool, _pool_pid, _pool_workers
    pool = _pool
    if pool is not None and _pool_pid == os.getpid():
        return pool
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minio-upload")
            _pool_pid = os.getpid()
            _pool_workers = workers
        return _pool


def executor_workers() -> int:
    """How many workers the shared pool has (0 before first use)."""
    return _pool_workers if _pool_pid == os.getpid() else 0
