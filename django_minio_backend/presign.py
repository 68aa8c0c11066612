"""Building the URLs of one bucket: plain public URLs and presigned GETs, without network I/O."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TypeAlias

from .settings import MAX_EXPIRY, MIN_EXPIRY, MinioSettings
from .signing import PresignedURLSigner, SigningCredentials, normalise_endpoint, quote_object_key

# A per-call URL lifetime: seconds or a timedelta, None for the alias's MINIO_URL_EXPIRY_HOURS.
Expiry: TypeAlias = int | float | timedelta | None


def external_base(settings: MinioSettings) -> tuple[str, str]:
    """(scheme, host) that users' browsers reach; default ports are dropped like every S3 client does."""
    return normalise_endpoint("https" if settings.external_use_https else "http", settings.external_endpoint)


def expiry_seconds(expire: Expiry, default: int) -> int:
    """Validate a per-call expiry (1 s .. 7 days); None means the alias default."""
    if expire is None:
        return default
    seconds = expire.total_seconds() if isinstance(expire, timedelta) else float(expire)
    if not MIN_EXPIRY.total_seconds() <= seconds <= MAX_EXPIRY.total_seconds():
        raise ValueError(f"expire must be between 1 second and 7 days, got {expire!r}")
    return int(seconds)


class URLBuilder:
    """Builds the URLs of one bucket; created once per storage instance.

    Uncached: ``remember_etag`` and ``forget`` do nothing here; ``urlcache.CachedURLBuilder`` uses them.
    """

    __slots__ = ("_default_expiry", "_keys", "_public", "_public_prefix", "_signer", "bucket")

    def __init__(self, settings: MinioSettings, bucket: str, *, public_base: str | None = None) -> None:
        """`public_base` (MINIO_PUBLIC_URL_BASE, for the bucket it maps to) replaces the external endpoint and the
        bucket in public URLs; presigned URLs always name the external endpoint."""
        scheme, host = external_base(settings)
        self.bucket = bucket
        self._keys = settings.keys
        self._public = settings.is_public(bucket)
        # A public URL is this prefix + the quoted name: quoting works byte by byte, so the quoted key prefix
        # (MINIO_KEY_PREFIX) is part of it once, not added to every name.
        base = public_base or f"{scheme}://{host}/{quote_object_key(bucket)}/"
        self._public_prefix = base + quote_object_key(settings.keys.prefix)
        self._default_expiry = settings.url_expiry_seconds
        credentials = SigningCredentials(
            access_key=settings.access_key, secret_key=settings.secret_key, region=settings.region
        )
        self._signer = PresignedURLSigner(scheme=scheme, host=host, credentials=credentials)

    @property
    def is_public(self) -> bool:
        return self._public

    def url(self, name: str, *, parameters: Mapping[str, str] | None = None, expire: Expiry = None) -> str:
        """Public buckets get a plain URL (parameters cannot be honoured unsigned); private ones are signed."""
        if self._public and not parameters:
            return self._public_prefix + quote_object_key(name)
        return self._signer.presign_get(
            bucket=self.bucket,
            key=self._keys.key(name),
            expires=expiry_seconds(expire, self._default_expiry),
            now=int(time.time()),
            query=parameters,
        )

    def url_many(
        self, names: Iterable[str], *, parameters: Mapping[str, str] | None = None, expire: Expiry = None
    ) -> dict[str, str]:
        """``url()`` of each name, keyed by name; presigned ones share one signing time."""
        if self._public and not parameters:
            prefix = self._public_prefix
            return {name: prefix + quote_object_key(name) for name in names}
        seconds = expiry_seconds(expire, self._default_expiry)
        now = int(time.time())
        presign, key = self._signer.presign_get, self._keys.key
        return {
            name: presign(bucket=self.bucket, key=key(name), expires=seconds, now=now, query=parameters)
            for name in names
        }

    def remember_etag(self, name: str, etag: str | None) -> None:
        """Nothing to remember without a cache."""

    def forget(self, name: str) -> None:
        """Nothing to forget without a cache."""
