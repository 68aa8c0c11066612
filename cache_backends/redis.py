"""Redis URL cache: one cache shared by every worker process and host.

Timeouts are short and retries few, because a slow cache is worse than none: when
Redis is down or slow, every call fails fast with CacheUnavailable and the storage
signs URLs itself. Errors are not swallowed here; the storage decides the fallback.

Fork safety: the client owns its ConnectionPool, which records the pid that created it
and resets itself (dropping, never closing, the inherited sockets) on first use in a
forked child, so a child never shares the parent's connections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from redis import ConnectionPool, Redis, RedisError
from redis.backoff import NoBackoff
from redis.retry import Retry

from .base import BaseURLCache, CacheUnavailable

__all__ = ["RedisURLCache"]


class RedisURLCache(BaseURLCache):
    """URL cache on Redis: GET/MGET to read, SET EX (pipelined) to write, DEL to delete."""

    __slots__ = ("_client", "_pool", "_prefix")

    def __init__(
        self,
        url: str,
        prefix: str = "minio_url_",
        *,
        connect_timeout: float = 0.5,
        socket_timeout: float = 0.5,
        retries: int = 1,
        max_connections: int | None = None,
    ) -> None:
        """`retries` extra attempts after a connection error, without backoff (one covers a stale pooled socket)."""
        self._prefix = prefix
        self._pool = ConnectionPool.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=socket_timeout,
            retry=Retry(NoBackoff(), retries),
            max_connections=max_connections,
            decode_responses=True,
        )
        self._client = Redis(connection_pool=self._pool)

    @property
    def client(self) -> Redis:
        """The underlying redis-py client, for diagnostics."""
        return self._client

    def close(self) -> None:
        """Close the pooled connections; the cache reconnects on next use."""
        self._pool.disconnect()

    def get(self, key: str) -> str | None:
        """url()'s hit: one GET, its answer as Redis gives it (no more decoding than redis-py's own)."""
        try:
            # execute_command, not get(): it skips get()'s keyword handling, a few per cent of a loopback GET.
            return cast("str | None", self._client.execute_command("GET", self._prefix + key))  # type: ignore[no-untyped-call]
        except RedisError as exc:
            raise CacheUnavailable(f"Redis GET failed: {exc}") from exc

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        prefix = self._prefix
        try:
            # execute_command, not mget(): mget()'s option handling costs about a fifth of a loopback MGET.
            names = [prefix + key for key in keys]
            values = cast("list[str | None]", self._client.execute_command("MGET", *names))  # type: ignore[no-untyped-call]
        except RedisError as exc:
            raise CacheUnavailable(f"Redis MGET failed: {exc}") from exc
        return {key: value for key, value in zip(keys, values, strict=True) if value is not None}

    def _set(self, key: str, value: str, timeout: int) -> None:
        try:
            self._client.set(self._prefix + key, value, ex=timeout)
        except RedisError as exc:
            raise CacheUnavailable(f"Redis SET failed: {exc}") from exc

    def _set_many(self, items: Mapping[str, str], timeout: int) -> None:
        prefix = self._prefix
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(prefix + key, value, ex=timeout)
                pipe.execute()
        except RedisError as exc:
            raise CacheUnavailable(f"Redis pipelined SET failed: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._client.delete(self._prefix + key)
        except RedisError as exc:
            raise CacheUnavailable(f"Redis DEL failed: {exc}") from exc

    def _delete_many(self, keys: Sequence[str]) -> None:
        prefix = self._prefix
        try:
            self._client.delete(*[prefix + key for key in keys])
        except RedisError as exc:
            raise CacheUnavailable(f"Redis DEL failed: {exc}") from exc
