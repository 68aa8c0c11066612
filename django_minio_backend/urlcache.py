"""Presigned URLs served from a shared cache: key derivation, the per-object ETag index, and fallback.

A hit is one cache round trip (one ``get_many`` of two keys) and no S3 request:

- ``"e" + H(object)`` holds the object's ETag (the index). Our own saves write it, deletes drop it, and a
  miss without it asks the server once (HEAD).
- ``"u" + H(object) + T(options)`` holds ``"<etag>\\n<url>"``. It is served only while its ETag equals the
  index, so new content gets a new URL at once and the superseded entry is simply overwritten.

H hashes the internal endpoint, bucket and object key; T hashes what shapes the URL: external endpoint,
credentials (their fingerprint, which changes with a rotated secret, never the secret), region, expiry and
response parameters. Every URL is signed when it is
stored, and its entry expires ``MINIO_URL_CACHE_TIMEOUT`` after its X-Amz-Date, so a served URL always has
the rest of its life left (20 % by default).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from cache_backends import CacheConfig, CacheUnavailable, URLCache, build_url_cache

from .per_process import PerProcess
from .presign import Expiry, URLBuilder, expiry_seconds, external_base
from .settings import MinioSettings
from .signing import canonical_query

__all__ = ["CachedURLBuilder", "SharedCache", "shared_cache"]

logger = logging.getLogger(__name__)

MISSING_TTL: Final = 60  # seconds the index remembers "no such object"; its URLs are signed uncached meanwhile
HEAD_RETRY_AFTER: Final = 30.0  # seconds a failed HEAD makes a process sign an endpoint's misses without asking it
_TRANSIT: Final = 1  # seconds allowed for a write to reach the cache, where its TTL starts
_KEY_VERSION: Final = b"dmb-url-1\n"  # change when the key or value layout changes


class SharedCache:
    """One URL cache per (process, CacheConfig), shared by every storage using it, with its outage state.

    When the cache fails, URLs are signed without it; it is tried again after ``retry_after`` seconds, so a
    dead Redis costs one fast failure per interval instead of one per URL. Each outage is logged once.
    """

    __slots__ = ("_lock", "cache", "label", "retry_after", "retry_at")

    def __init__(self, cache: URLCache, label: str, retry_after: float = 5.0) -> None:
        self.cache = cache
        self.label = label
        self.retry_after = retry_after
        self.retry_at = 0.0  # 0.0 while healthy; else the monotonic time of the next attempt
        self._lock = threading.Lock()

    def usable(self) -> bool:
        return not self.retry_at or time.monotonic() >= self.retry_at

    def failed(self, error: CacheUnavailable) -> None:
        with self._lock:
            if not self.retry_at:
                logger.warning("URL cache %s is unavailable, signing URLs without it: %s", self.label, error)
            self.retry_at = time.monotonic() + self.retry_after

    def answered(self) -> None:
        with self._lock:
            if self.retry_at:
                logger.info("URL cache %s answers again", self.label)
            self.retry_at = 0.0


# Keyed by the fields of a CacheConfig: a tuple of them hashes several times faster than the dataclass (url()).
_shared: PerProcess[tuple[object, ...], SharedCache] = PerProcess()


class _HeadOutage:
    """Until when (monotonic) this process signs misses for one endpoint without a HEAD, after a HEAD failed."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        self.until = 0.0


_head_outages: PerProcess[str, _HeadOutage] = PerProcess()


def cache_config(settings: MinioSettings) -> CacheConfig:
    return CacheConfig(
        backend=settings.url_cache_backend,
        prefix=settings.url_cache_prefix,
        max_entries=settings.url_cache_max_entries,
        redis_url=settings.url_cache_redis_url,
        django_alias=settings.url_cache_django_alias,
    )


def _cache_label(settings: MinioSettings) -> str:
    return f"{settings.url_cache_backend!r} (STORAGES[{settings.alias!r}])"


def _new_shared_cache(config: CacheConfig, label: str) -> SharedCache:
    return SharedCache(build_url_cache(config), label)


def shared_cache(settings: MinioSettings) -> SharedCache:
    """The process-wide cache for this alias's cache settings: one LRU or Redis pool per config, not per storage."""
    config = cache_config(settings)
    return _shared.get(dataclasses.astuple(config), _new_shared_cache, config, _cache_label(settings))


class CachedURLBuilder(URLBuilder):
    """URLBuilder for a private bucket whose presigned URLs go through a shared cache.

    ``head(name)`` returns the object's ETag with one request ("" when there is no such object) and raises
    on any other failure: the storage passes its own HEAD, so a missing bucket is told apart from a missing
    object exactly as in exists(). ``clock()`` gives the wall time in seconds and is injectable for tests. The cache is
    this process's shared cache for the settings, looked up at each use (so a forked child uses its own), or
    ``cache`` when one is given.
    """

    __slots__ = (
        "_cache",
        "_cache_config",
        "_cache_key",
        "_cache_label",
        "_clock",
        "_default_tag",
        "_endpoint",
        "_head",
        "_object_hash",
        "_timeout",
        "_url_ns",
    )

    def __init__(
        self,
        settings: MinioSettings,
        bucket: str,
        *,
        head: Callable[[str], str],
        cache: SharedCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(settings, bucket)
        self._cache = cache
        self._cache_config = cache_config(settings)
        self._cache_key = dataclasses.astuple(self._cache_config)
        self._cache_label = _cache_label(settings)
        self._head = head
        self._clock = clock
        self._endpoint = settings.endpoint
        self._timeout = settings.url_cache_timeout
        # H(object) hashes the key: the alias's MINIO_KEY_PREFIX, then the name (added per call)
        seed = f"{settings.endpoint}\n{bucket}\n{settings.keys.prefix}".encode()
        self._object_hash = hashlib.blake2b(_KEY_VERSION + seed, digest_size=16)
        scheme, host = external_base(settings)
        self._url_ns = f"{scheme}://{host}\n{settings.credentials_id}\n{settings.region}\n"
        self._default_tag = self._tag(self._default_expiry, None)

    def _shared(self) -> SharedCache:
        found = self._cache or _shared.find(self._cache_key)  # the common case first: url() is the hot path
        if found is None:
            found = _shared.get(self._cache_key, _new_shared_cache, self._cache_config, self._cache_label)
        return found

    # -- keys ------------------------------------------------------------------------------------
    def _digest(self, name: str) -> str:
        hasher = self._object_hash.copy()
        hasher.update(name.encode())
        return hasher.hexdigest()

    def _tag(self, seconds: int, parameters: Mapping[str, str] | None) -> str:
        """Hash of everything besides the object that makes two URLs differ (pairs encoded, so unambiguous)."""
        query = canonical_query(list(parameters.items())) if parameters else ""
        return hashlib.blake2b(f"{self._url_ns}{seconds}\n{query}".encode(), digest_size=8).hexdigest()

    def _options(self, parameters: Mapping[str, str] | None, expire: Expiry) -> tuple[int, str]:
        if not parameters and expire is None:
            return self._default_expiry, self._default_tag
        seconds = expiry_seconds(expire, self._default_expiry)
        return seconds, self._tag(seconds, parameters)

    # -- reading ---------------------------------------------------------------------------------
    def url(self, name: str, *, parameters: Mapping[str, str] | None = None, expire: Expiry = None) -> str:
        if parameters is None and expire is None:  # the common case, without a call
            seconds, tag = self._default_expiry, self._default_tag
        else:
            seconds, tag = self._options(parameters, expire)
        hasher = self._object_hash.copy()  # self._digest(name), inlined: this is the hottest path
        hasher.update(name.encode())
        digest = hasher.hexdigest()
        index_key = "e" + digest
        url_key = "u" + digest + tag
        found = self._read((index_key, url_key))
        if found is None:
            return self._sign(name, seconds, parameters, int(self._clock()))
        etag = found.get(index_key)
        entry = found.get(url_key)
        if etag and entry:
            entry_etag, _, url = entry.partition("\n")
            if entry_etag == etag:
                return url
        return self._fill([(name, index_key, url_key)], found, seconds, parameters)[name]

    def url_many(
        self, names: Iterable[str], *, parameters: Mapping[str, str] | None = None, expire: Expiry = None
    ) -> dict[str, str]:
        """URLs of many objects with one ``get_many`` round trip (plus a HEAD per object the index lacks)."""
        seconds, tag = self._options(parameters, expire)
        keys: dict[str, tuple[str, str]] = {}
        for name in names:
            digest = self._digest(name)
            keys[name] = ("e" + digest, "u" + digest + tag)
        found = self._read([key for pair in keys.values() for key in pair]) if keys else {}
        if found is None:
            stamp = int(self._clock())
            return {name: self._sign(name, seconds, parameters, stamp) for name in keys}
        urls: dict[str, str] = {}
        misses: list[tuple[str, str, str]] = []
        for name, (index_key, url_key) in keys.items():
            etag = found.get(index_key)
            entry = found.get(url_key)
            if etag and entry:
                entry_etag, _, url = entry.partition("\n")
                if entry_etag == etag:
                    urls[name] = url
                    continue
            misses.append((name, index_key, url_key))
        if misses:
            urls.update(self._fill(misses, found, seconds, parameters))
        return {name: urls[name] for name in keys}

    def _read(self, keys: Sequence[str]) -> dict[str, str] | None:
        """One get_many, or None when the cache is failing (then URLs are signed without it)."""
        shared = self._shared()
        if shared.retry_at and not shared.usable():
            return None
        try:
            found = shared.cache.get_many(keys)
        except CacheUnavailable as error:
            shared.failed(error)
            return None
        if shared.retry_at:
            shared.answered()
        return found

    def _fill(
        self,
        misses: list[tuple[str, str, str]],
        found: Mapping[str, str],
        seconds: int,
        parameters: Mapping[str, str] | None,
    ) -> dict[str, str]:
        """Sign the missed URLs and store each under its object's ETag. An ETag the index lacks is asked of the
        server first, so every URL is signed when it is stored."""
        etags = [self._etag(name, found.get(index_key)) for name, index_key, _ in misses]
        now = self._clock()
        stamp = earliest = int(now)
        urls: dict[str, str] = {}
        entries: dict[str, str] = {}  # url key -> "<etag>\n<url>"
        index: dict[str, str] = {}  # index key -> etag
        absent: dict[str, str] = {}  # index key -> "" (no such object)
        for (name, index_key, url_key), etag in zip(misses, etags, strict=True):
            if not etag:  # no such object, or the server could not be asked: nothing to key the URL by
                urls[name] = self._sign(name, seconds, parameters, stamp)
                if etag == "" and index_key not in found:
                    absent[index_key] = ""
                continue
            if found.get(index_key) != etag:
                index[index_key] = etag
            previous_etag, _, previous_url = found.get(url_key, "").partition("\n")
            if previous_etag == etag:  # only the index was missing, and the content has not changed
                urls[name] = previous_url
                continue
            url = self._sign(name, seconds, parameters, stamp)
            if url == previous_url:
                # Signed in the same second as the URL cached for the previous content: step back one second
                # so the new content never shares a URL (and browser caches) with the old.
                earliest = stamp - 1
                url = self._sign(name, seconds, parameters, earliest)
            urls[name] = url
            entries[url_key] = f"{etag}\n{url}"
        # The cache counts a TTL from when the write arrives; a URL's life started at its X-Amz-Date.
        if seconds == self._default_expiry:  # URLs and index entries live alike: one write
            self._store({**index, **entries}, int(earliest + self._timeout - now) - _TRANSIT)
        else:
            timeout = min(self._timeout, seconds * 4 // 5)
            self._store(entries, int(earliest + timeout - now) - _TRANSIT)
            self._store(index, self._timeout)
        self._store(absent, min(MISSING_TTL, self._timeout))
        return urls

    def _store(self, items: dict[str, str], ttl: int) -> None:
        if not items or ttl <= 0:
            return
        shared = self._shared()
        try:
            shared.cache.set_many(items, ttl)
        except CacheUnavailable as error:
            shared.failed(error)

    def _sign(self, name: str, seconds: int, parameters: Mapping[str, str] | None, stamp: int) -> str:
        return self._signer.presign_get(
            bucket=self.bucket,
            key=self._keys.key(name),
            expires=seconds,
            now=stamp,
            query=parameters,
        )

    def _etag(self, name: str, indexed: str | None) -> str | None:
        """The object's ETag: the index's, else one HEAD's ("" for no such object), None when the server could
        not tell. After a failed HEAD this process does not ask the endpoint again for HEAD_RETRY_AFTER seconds,
        so while S3 is down or hanging a miss costs one deadline per interval, not one per url(); logged once
        per outage."""
        if indexed is not None:
            return indexed
        outage = _head_outages.get(self._endpoint, _HeadOutage)
        failing = outage.until > 0.0
        if failing and time.monotonic() < outage.until:
            return None
        try:
            etag = self._head(name).strip('"')
        except Exception as error:  # noqa: BLE001 - url() keeps working uncached while S3 cannot be asked
            outage.until = time.monotonic() + HEAD_RETRY_AFTER
            if not failing:
                logger.warning(
                    "Cannot read the ETag of %s/%s, serving uncached URLs for %gs: %r",
                    self.bucket,
                    name,
                    HEAD_RETRY_AFTER,
                    error,
                )
            return None
        if failing:
            outage.until = 0.0
            logger.info("%s answers HEAD requests again; caching URLs again", self._endpoint)
        return etag

    # -- writes through the storage ----------------------------------------------------------------
    def remember_etag(self, name: str, etag: str | None) -> None:
        """Record the ETag of content we just wrote, so the next url() is signed for it, without a HEAD."""
        self._set_index(name, (etag or "").strip('"'))

    def forget(self, name: str) -> None:
        """Drop the object's index entry (it was deleted); its URL entries can never match again."""
        self._set_index(name, "")

    def _set_index(self, name: str, etag: str) -> None:
        """Write the object's index entry ("": drop it). Skipped while the cache is failing, like url(): a save or
        delete never waits on a dead cache."""
        shared = self._shared()
        if shared.retry_at and not shared.usable():
            return
        index_key = "e" + self._digest(name)
        try:
            if etag:
                shared.cache.set(index_key, etag, self._timeout)
            else:
                shared.cache.delete(index_key)
        except CacheUnavailable as error:
            shared.failed(error)
            return
        if shared.retry_at:
            shared.answered()
