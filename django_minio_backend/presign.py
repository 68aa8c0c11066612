"""Building the URLs of one bucket: plain public URLs and presigned GETs, without network I/O.

A presigned URL is signed at the start of the current stable window (MINIO_URL_STABLE_WINDOW, aligned to the Unix
epoch), so every process with the same settings and credentials hands out the same URL until the window ends, and
each URL still has its expiry minus the window to live. Temporary credentials cut that expiry to their own life.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import TypeAlias

from .credentials import CredentialsError, CredentialsSource, Lease
from .settings import MAX_EXPIRY, MIN_EXPIRY, MinioSettings
from .signing import PresignedURLSigner, normalise_endpoint, quote_object_key, window_start

logger = logging.getLogger(__name__)

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


def lease_expiry(lease: Lease, seconds: int, now: float, *, label: str, too_late: str) -> int:
    """``seconds`` cut to the life the lease's credentials have left at ``now`` (Unix seconds), so what is signed
    then dies with them; CredentialsError when less than a second is left ("... expire before ``too_late``")."""
    if lease.expires_at is None:
        return seconds
    life = int(lease.expires_at - now)
    if life < 1:
        raise CredentialsError(f"the credentials of {label} expire before {too_late}")
    return min(seconds, life)


class URLBuilder:
    """Builds the URLs of one bucket; created once per storage instance.

    Uncached: ``remember_etag`` and ``forget`` do nothing here; ``urlcache.CachedURLBuilder`` uses them. ``clock()``
    gives the wall time in seconds (injectable for tests).
    """

    __slots__ = (
        "_capped",
        "_clock",
        "_credentials",
        "_default_expiry",
        "_host",
        "_keys",
        "_public",
        "_public_prefix",
        "_scheme",
        "_signed",
        "_static",
        "_window",
        "bucket",
    )

    def __init__(
        self,
        settings: MinioSettings,
        bucket: str,
        *,
        public_base: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
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
        self._window = settings.url_window_seconds
        self._clock = clock
        self._scheme, self._host = scheme, host
        self._credentials = CredentialsSource(settings)
        # The signer of the credentials in use, with their lease; replaced (one tuple, so threads never see half of
        # it) when a provider's credentials are renewed.
        self._signed: tuple[Lease, PresignedURLSigner] | None = None
        self._static: PresignedURLSigner | None = None  # the signer of static keys, for the hot path
        if self._credentials.is_static:
            self._signed = self._signer_for(self._credentials.lease())
            self._static = self._signed[1]
        self._capped = False  # logged once that temporary credentials cut a URL's expiry

    @property
    def is_public(self) -> bool:
        return self._public

    def url(self, name: str, *, parameters: Mapping[str, str] | None = None, expire: Expiry = None) -> str:
        """Public buckets get a plain URL (parameters cannot be honoured unsigned); private ones are signed."""
        if self._public and not parameters:
            return self._public_prefix + quote_object_key(name)
        signer, at, seconds = self._signing(expire)
        return signer.presign_get(
            bucket=self.bucket, key=self._keys.key(name), expires=seconds, now=at, query=parameters
        )

    def url_many(
        self, names: Iterable[str], *, parameters: Mapping[str, str] | None = None, expire: Expiry = None
    ) -> dict[str, str]:
        """``url()`` of each name, keyed by name; presigned ones share one signing time."""
        if self._public and not parameters:
            prefix = self._public_prefix
            return {name: prefix + quote_object_key(name) for name in names}
        signer, at, seconds = self._signing(expire)
        presign, key = signer.presign_get, self._keys.key
        return {
            name: presign(bucket=self.bucket, key=key(name), expires=seconds, now=at, query=parameters)
            for name in names
        }

    def _signing(self, expire: Expiry) -> tuple[PresignedURLSigner, int, int]:
        """The signer, the signing time and the expiry of a URL built now: signed at the start of the stable window
        (a per-call expiry has a window of the same share of it), valid for the expiry, never past the life of the
        credentials."""
        if expire is None:
            seconds, window = self._default_expiry, self._window
        else:
            seconds = expiry_seconds(expire, self._default_expiry)
            window = self._window * seconds // self._default_expiry
        at = window_start(int(self._clock()), window)
        if self._static is not None:  # static keys: nothing changes
            return self._static, at, seconds
        return self._leased(at, seconds)

    def _leased(self, at: int, seconds: int) -> tuple[PresignedURLSigner, int, int]:
        """With a credentials provider: the signer of this process's current credentials, and the expiry cut so the
        URL dies with them (a URL signed at `at` lives until `at + expiry`)."""
        lease = self._credentials.lease()
        signed = self._signed
        if signed is None or signed[0].fingerprint != lease.fingerprint:  # renewed: other credentials
            signed = self._signed = self._signer_for(lease)
        life = lease_expiry(lease, seconds, at, label=self._credentials.label, too_late="a URL could be used")
        if life < seconds and not self._capped:
            self._capped = True
            logger.info(
                "Presigned URLs of bucket %r live at most until their credentials from %s expire (%d s instead of "
                "%d s); logged once",
                self.bucket,
                self._credentials.label,
                life,
                seconds,
            )
        return signed[1], at, life

    def _signer_for(self, lease: Lease) -> tuple[Lease, PresignedURLSigner]:
        return lease, PresignedURLSigner(scheme=self._scheme, host=self._host, credentials=lease.credentials)

    def remember_etag(self, name: str, etag: str | None) -> None:
        """Nothing to remember without a cache."""

    def forget(self, name: str) -> None:
        """Nothing to forget without a cache."""
