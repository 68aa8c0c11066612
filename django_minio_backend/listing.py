"""A short-lived, process-wide copy of a bucket's listing for answering many metadata questions at once.

`collectstatic` asks `exists()` and `get_modified_time()` for every file. One ListObjectsV2 page
carries key, size, ETag and LastModified of up to 1,000 objects, so a listing answers a whole run
for a fraction of the requests one HEAD per question costs.

The rule for when the listing is used (a single lookup must not pay for a listing of a big bucket):
a lookup is left to a HEAD while this process has made fewer than max(2, P) HEAD lookups on the
bucket within the last `ttl` seconds, P being the number of pages the previous listing of the bucket
took. The next lookup fetches the listing, which answers every lookup for `ttl` seconds. The
process's own saves and deletes are applied to it at once; changes made by others are seen once it
expires, so no answer is older than `ttl` seconds (unless it is held, see `BucketListing.held`).
`ttl == 0` turns the listing off.
"""

from __future__ import annotations

import enum
import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from django.core.signals import setting_changed

from .connection import client_key, get_client
from .per_process import PerProcess
from .settings import MinioSettings

PAGE_SIZE: Final = 1000  # keys per ListObjectsV2 page (the S3 default and maximum)
MIN_HEAD_LOOKUPS: Final = 2
_PLAIN_MD5 = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class ListedObject:
    """What the listing knows about one object; `md5` is None when its ETag is not a plain MD5 (multipart)."""

    size: int | None
    modified: datetime
    md5: str | None


class NotListed(enum.Enum):
    """The listing does not answer this lookup: ask the server with a HEAD."""

    NOT_LISTED = "not listed"


NOT_LISTED: Final = NotListed.NOT_LISTED


def md5_from_etag(etag: str | None) -> str | None:
    """The content MD5 an ETag stands for, or None for multipart and other non-MD5 ETags."""
    if etag is None:
        return None
    etag = etag.strip('"').lower()
    return etag if _PLAIN_MD5.fullmatch(etag) else None


class BucketListing:
    """The listing of one bucket as one process sees it; thread-safe. It lists through this process's client,
    looked up when it lists."""

    def __init__(self, settings: MinioSettings, bucket: str, ttl: float) -> None:
        self._settings = settings
        self._bucket = bucket
        self._ttl = ttl
        self._lock = threading.RLock()
        self._entries: dict[str, ListedObject] | None = None
        self._fetched_at = 0.0
        self._pages = 0
        self._holds = 0
        self._window_start = -math.inf
        self._head_lookups = 0

    def lookup(self, name: str) -> ListedObject | NotListed | None:
        """The object, None when the listing shows it absent, or NOT_LISTED when a HEAD should answer."""
        with self._lock:
            if self._fresh():
                return self._entries_or_empty().get(name)
            if self._ttl <= 0:
                return NOT_LISTED
            now = time.monotonic()
            if now - self._window_start > self._ttl:
                self._window_start, self._head_lookups = now, 0
            if self._head_lookups < max(MIN_HEAD_LOOKUPS, self._pages):
                self._head_lookups += 1
                return NOT_LISTED
            self._fetch()
            return self._entries_or_empty().get(name)

    def charge_lookup(self) -> None:
        """Count a request made on a lookup's behalf (such as a bucket check) like a HEAD lookup."""
        with self._lock:
            self._head_lookups += 1

    def peek(self, name: str) -> ListedObject | None:
        """The object if a current listing shows it; never makes a request."""
        with self._lock:
            return self._entries.get(name) if self._entries is not None and self._fresh() else None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Fetch the listing now unless it is current, and trust it until the block ends, however long that is.

        For a bulk pass (collectstatic) in which this process is the only writer.
        """
        with self._lock:
            if not self._fresh():
                self._fetch()
            self._holds += 1
        try:
            yield
        finally:
            with self._lock:
                self._holds -= 1

    def record_saved(self, name: str, size: int | None, md5: str | None) -> None:
        with self._lock:
            if self._entries is not None:
                self._entries[name] = ListedObject(size=size, modified=datetime.now(tz=UTC), md5=md5)

    def record_deleted(self, name: str) -> None:
        with self._lock:
            if self._entries is not None:
                self._entries.pop(name, None)

    def _fresh(self) -> bool:
        if self._entries is None:
            return False
        return self._holds > 0 or time.monotonic() - self._fetched_at <= self._ttl

    def _entries_or_empty(self) -> dict[str, ListedObject]:
        return self._entries if self._entries is not None else {}

    def _fetch(self) -> None:
        """List the alias's key prefix of the bucket, by name (the lock is held, so concurrent lookups wait for this
        one listing)."""
        started = time.monotonic()
        entries: dict[str, ListedObject] = {}
        keys = self._settings.keys
        listed = get_client(self._settings).list_objects(
            bucket_name=self._bucket, prefix=keys.prefix or None, recursive=True
        )
        for item in listed:
            name = None if item.object_name is None else keys.name(item.object_name)
            if name is None or item.is_dir or item.last_modified is None:
                continue
            entries[name] = ListedObject(size=item.size, modified=item.last_modified, md5=md5_from_etag(item.etag))
        self._entries = entries
        self._fetched_at = started
        self._pages = max(1, math.ceil(len(entries) / PAGE_SIZE))
        self._window_start, self._head_lookups = started, 0


# A forked child starts without listings: an inherited one's lock may be held by a thread of the parent.
_listings: PerProcess[tuple[object, str, str, float], BucketListing] = PerProcess()


def listing_for(settings: MinioSettings, bucket: str, ttl: float) -> BucketListing:
    """The process's listing of `bucket` under the alias's key prefix as its client sees it (shared by every
    storage using all three)."""
    key = (client_key(settings), bucket, settings.keys.prefix, ttl)
    return _listings.get(key, BucketListing, settings, bucket, ttl)


def forget_listings() -> None:
    """Drop every listing, as a new process would start (for tests and benchmarks)."""
    _listings.clear()


def _on_setting_changed(*, setting: str, **_: object) -> None:
    if setting == "STORAGES":
        forget_listings()


setting_changed.connect(_on_setting_changed)
