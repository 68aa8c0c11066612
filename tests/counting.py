"""A urllib3 pool that records every request, to count S3 round trips without a mock."""

from __future__ import annotations

import threading
from typing import Any

import urllib3


class CountingPoolManager(urllib3.PoolManager):
    """Pass as MINIO_HTTP_CLIENT; every request made through the storage is recorded as (method, url), and
    every answer received as (method, url, status)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", urllib3.Timeout(connect=5, read=60))
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.answers: list[tuple[str, str, int]] = []

    def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any) -> urllib3.BaseHTTPResponse:  # type: ignore[override]
        with self._lock:
            self.requests.append((method, url))
        response = super().urlopen(method, url, redirect=redirect, **kw)
        with self._lock:
            self.answers.append((method, url, response.status))
        return response

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.answers.clear()

    def count(self, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for recorded, _ in self.requests if method is None or recorded == method)
