"""Versioned presigned URLs: a shared cache of each object's version, so new content gets a new URL at once.

Presigned URLs are stable without a cache (presign.py signs them at the start of a stable window). What a cache adds
is versioning: a storage that replaces objects (``replace_existing=True``), or a name deleted and saved again, must
hand out a new URL as soon as the content changes, or browsers and CDNs keep showing the old bytes. So each URL of
a cached storage carries a signed query parameter ``v`` naming the object's version (a hash of its ETag), which S3
servers ignore but the signature covers:

- ``"e" + H(object)`` holds the object's version. Our own saves write it, deletes drop it, and a miss asks the
  server once (HEAD); "" remembers for a minute that there is no such object.
- A hit is one cache read of that one key, and no S3 request. The URL is then signed here, like any other, and a
  builder keeps up to MINIO_URL_CACHE_MAX_ENTRIES URLs it signed (per window, version and credentials), so a hit
  usually signs nothing.

H hashes the internal endpoint, bucket and object key (MINIO_KEY_PREFIX included). Versions do not depend on
credentials, expiry or response parameters, so one entry serves every URL of an object. An entry lives
``MINIO_URL_CACHE_TIMEOUT`` seconds: a change made outside this backend gets a new URL at most that long after it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from cache_backends import CacheConfig, CacheUnavailable, URLCache, build_url_cache

from .per_process import PerProcess
from .presign import Expiry, URLBuilder, expiry_seconds
from .settings import MinioSettings
from .signing import PresignedURLSigner, canonical_query

__all__ = ["VERSION_PARAMETER", "CachedURLBuilder", "SharedCache", "shared_cache", "version_of"]

logger = logging.getLogger(__name__)

VERSION_PARAMETER: Final = "v"  # the signed query parameter naming the object's version
MISSING_TTL: Final = 60  # seconds the index remembers "no such object"; its URLs carry no version meanwhile
HEAD_RETRY_AFTER: Final = 30.0  # seconds a failed HEAD makes a process sign an endpoint's misses without asking it
_KEY_VERSION: Final = b"dmb-url-2\n"  # change when the key or value layout changes


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


# Keyed by the repr of a CacheConfig's fields: a string caches its hash, so url() finds its cache in a few dozen ns.
_shared: PerProcess[str, SharedCache] = PerProcess()


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


def _registry_key(config: CacheConfig) -> str:
    return repr(dataclasses.astuple(config))


def shared_cache(settings: MinioSettings) -> SharedCache:
    """The process-wide cache for this alias's cache settings: one LRU or Redis pool per config, not per storage."""
    config = cache_config(settings)
    return _shared.get(_registry_key(config), _new_shared_cache, config, _cache_label(settings))


def version_of(etag: str) -> str:
    """The version an ETag stands for in URLs: short, and the same in every process."""
    return hashlib.blake2b(etag.strip('"').encode(), digest_size=8).hexdigest()


class CachedURLBuilder(URLBuilder):
    """URLBuilder for a private bucket whose URLs carry the object's version, read from a shared cache.

    ``head(name)`` returns the object's ETag with one request ("" when there is no such object) and raises on any
    other failure: the storage passes its own HEAD, so a missing bucket is told apart from a missing object exactly
    as in exists(). The cache is this process's shared cache for the settings, looked up at each use (so a forked
    child uses its own), or ``cache`` when one is given.
    """

    __slots__ = (
        "_cache",
        "_cache_config",
        "_cache_key",
        "_cache_label",
        "_digests",
        "_endpoint",
        "_head",
        "_memo",
        "_memo_size",
        "_object_hash",
        "_timeout",
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
        super().__init__(settings, bucket, clock=clock)
        self._cache = cache
        self._cache_config = cache_config(settings)
        self._cache_key = _registry_key(self._cache_config)
        self._cache_label = _cache_label(settings)
        self._head = head
        self._endpoint = settings.endpoint
        self._timeout = settings.url_cache_timeout
        # H(object) hashes the key: the alias's MINIO_KEY_PREFIX, then the name (added per call)
        seed = f"{settings.endpoint}\n{bucket}\n{settings.keys.prefix}".encode()
        self._object_hash = hashlib.blake2b(_KEY_VERSION + seed, digest_size=16)
        # url key -> (version, signing time, signer, url): what this builder signed, served again while all three hold;
        # up to MINIO_URL_CACHE_MAX_ENTRIES, all dropped when full
        self._memo: dict[str, tuple[str | None, int, PresignedURLSigner, str]] = {}
        self._memo_size = settings.url_cache_max_entries
        self._digests: dict[str, str] = {}  # name -> H(object): a dict lookup instead of hashing on every url()

    def _shared(self) -> SharedCache:
        found = self._cache or _shared.find(self._cache_key)  # the common case first: url() is the hot path
        if found is None:
            found = _shared.get(self._cache_key, _new_shared_cache, self._cache_config, self._cache_label)
        return found

    # -- keys ------------------------------------------------------------------------------------
    def _digest(self, name: str) -> str:
        digest = self._digests.get(name)
        if digest is None:
            hasher = self._object_hash.copy()
            hasher.update(name.encode())
            digest = hasher.hexdigest()
            if len(self._digests) >= self._memo_size:
                self._digests.clear()
            self._digests[name] = digest
        return digest

    def _tag(self, parameters: Mapping[str, str] | None, expire: Expiry) -> str:
        """What besides the object tells two URLs apart: the expiry and the response parameters (pairs encoded, so
        unambiguous); "" for the alias's defaults."""
        if parameters is None and expire is None:
            return ""
        if parameters and VERSION_PARAMETER in parameters:
            raise ValueError(f"parameters must not hold {VERSION_PARAMETER!r}: the URL cache puts the version there")
        query = canonical_query(list(parameters.items())) if parameters else ""
        seconds = expiry_seconds(expire, self._default_expiry)
        return hashlib.blake2b(f"{seconds}\n{query}".encode(), digest_size=8).hexdigest()

    # -- reading ---------------------------------------------------------------------------------
    def url(self, name: str, *, parameters: Mapping[str, str] | None = None, expire: Expiry = None) -> str:
        tag = "" if parameters is None and expire is None else self._tag(parameters, expire)
        digest = self._digests.get(name) or self._digest(name)  # the common case inlined: this is the hottest path
        version = self._version(name, "e" + digest)
        signer, at, seconds = self._signing(expire)
        return self._versioned(name, digest + tag, version, signer, at, seconds, parameters)

    def url_many(
        self, names: Iterable[str], *, parameters: Mapping[str, str] | None = None, expire: Expiry = None
    ) -> dict[str, str]:
        """URLs of many objects with one ``get_many`` round trip (plus a HEAD per object the index lacks)."""
        tag = self._tag(parameters, expire)
        digests = {name: self._digest(name) for name in names}
        versions = self._versions(digests)
        signer, at, seconds = self._signing(expire)
        return {
            name: self._versioned(name, digest + tag, versions[name], signer, at, seconds, parameters)
            for name, digest in digests.items()
        }

    def _versioned(
        self,
        name: str,
        key: str,
        version: str | None,
        signer: PresignedURLSigner,
        at: int,
        seconds: int,
        parameters: Mapping[str, str] | None,
    ) -> str:
        """The URL of this version, signed at `at`: the one signed before while version, window and credentials
        are the same, else a new one."""
        kept = self._memo.get(key)
        if kept is not None and kept[0] == version and kept[1] == at and kept[2] is signer:
            return kept[3]
        query = parameters
        if version:
            query = {**parameters, VERSION_PARAMETER: version} if parameters else {VERSION_PARAMETER: version}
        url = signer.presign_get(bucket=self.bucket, key=self._keys.key(name), expires=seconds, now=at, query=query)
        if len(self._memo) >= self._memo_size:
            self._memo.clear()
        self._memo[key] = (version, at, signer, url)
        return url

    def _version(self, name: str, index_key: str) -> str | None:
        """The object's version: one cache read; on a miss, one HEAD, remembered. None when the object does not exist
        or its version cannot be known now (the cache or S3 failing): its URL is then signed without one."""
        shared = self._shared()
        if shared.retry_at and not shared.usable():
            return None
        try:
            found = shared.cache.get(index_key)
        except CacheUnavailable as error:
            shared.failed(error)
            return None
        if shared.retry_at:
            shared.answered()
        if found is not None:
            return found or None
        return self._fill({name: index_key})[name]

    def _versions(self, digests: Mapping[str, str]) -> dict[str, str | None]:
        """``_version`` of many objects with one read."""
        keys = {name: "e" + digest for name, digest in digests.items()}
        shared = self._shared()
        if not keys or (shared.retry_at and not shared.usable()):
            return dict.fromkeys(keys)
        try:
            found = shared.cache.get_many(list(keys.values()))
        except CacheUnavailable as error:
            shared.failed(error)
            return dict.fromkeys(keys)
        if shared.retry_at:
            shared.answered()
        versions: dict[str, str | None] = {name: found[key] or None for name, key in keys.items() if key in found}
        missed = {name: key for name, key in keys.items() if key not in found}
        if missed:
            versions.update(self._fill(missed))
        return {name: versions[name] for name in keys}

    def _fill(self, missed: Mapping[str, str]) -> dict[str, str | None]:
        """Versions the index lacks, by one HEAD each, written back to the cache."""
        versions: dict[str, str | None] = {}
        known: dict[str, str] = {}  # index key -> version
        absent: dict[str, str] = {}  # index key -> "" (no such object)
        for name, index_key in missed.items():
            etag = self._etag(name)
            if etag is None:  # the server could not be asked: nothing to remember
                versions[name] = None
            elif not etag:
                versions[name] = None
                absent[index_key] = ""
            else:
                versions[name] = known[index_key] = version_of(etag)
        self._store(known, self._timeout)
        self._store(absent, min(MISSING_TTL, self._timeout))
        return versions

    def _store(self, items: dict[str, str], ttl: int) -> None:
        if not items:
            return
        shared = self._shared()
        try:
            shared.cache.set_many(items, ttl)
        except CacheUnavailable as error:
            shared.failed(error)

    def _etag(self, name: str) -> str | None:
        """The object's ETag by one HEAD ("" for no such object), None when the server could not tell. After a failed
        HEAD this process does not ask the endpoint again for HEAD_RETRY_AFTER seconds, so while S3 is down or
        hanging a miss costs one deadline per interval, not one per url(); logged once per outage."""
        outage = _head_outages.get(self._endpoint, _HeadOutage)
        failing = outage.until > 0.0
        if failing and time.monotonic() < outage.until:
            return None
        try:
            etag = self._head(name).strip('"')
        except Exception as error:  # noqa: BLE001 - url() keeps working unversioned while S3 cannot be asked
            outage.until = time.monotonic() + HEAD_RETRY_AFTER
            if not failing:
                logger.warning(
                    "Cannot read the ETag of %s/%s, serving URLs without a version for %gs: %r",
                    self.bucket,
                    name,
                    HEAD_RETRY_AFTER,
                    error,
                )
            return None
        if failing:
            outage.until = 0.0
            logger.info("%s answers HEAD requests again; versioning URLs again", self._endpoint)
        return etag

    # -- writes through the storage ----------------------------------------------------------------
    def remember_etag(self, name: str, etag: str | None) -> None:
        """Record the version of content we just wrote, so the next url() names it, without a HEAD."""
        self._set_index(name, version_of(etag) if etag else "")

    def forget(self, name: str) -> None:
        """Drop the object's index entry (it was deleted): the next url() asks the server."""
        self._set_index(name, "")

    def _set_index(self, name: str, version: str) -> None:
        """Write the object's index entry ("": drop it). Skipped while the cache is failing, like url(): a save or
        delete never waits on a dead cache."""
        shared = self._shared()
        if shared.retry_at and not shared.usable():
            return
        index_key = "e" + self._digest(name)
        try:
            if version:
                shared.cache.set(index_key, version, self._timeout)
            else:
                shared.cache.delete(index_key)
        except CacheUnavailable as error:
            shared.failed(error)
            return
        if shared.retry_at:
            shared.answered()
