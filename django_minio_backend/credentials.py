"""Where an alias's signing credentials come from: its static keys, or MINIO_CREDENTIALS_PROVIDER.

A provider's credentials are fetched on first use, once per process (a forked child fetches its own), shared by
every storage, connection and SDK client that names the same provider, and renewed before they expire: one
thread asks the provider while the others keep signing with the current credentials, and nothing signs with
credentials that have expired. A provider given as a dotted path is built again for each renewal, so renewed
credentials come early instead of when the provider's own cache lets go of the old ones (minio's providers keep
theirs until 10 seconds before they expire). A provider that fails raises `CredentialsError` on the operation
that needed it; nothing is ever sent unsigned.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Final

from django.utils.module_loading import import_string
from minio.credentials.credentials import Credentials
from minio.credentials.providers import Provider

from .per_process import PerProcess
from .settings import MinioSettings
from .signing import SigningCredentials

__all__ = ["CredentialsError", "CredentialsSource", "Lease", "SDKProvider", "provider_label"]

logger = logging.getLogger(__name__)

RENEW_BEFORE: Final = 15 * 60.0  # seconds before expiry a renewal starts (at most half of the credentials' life)
EXPIRED_BEFORE: Final = 10.0  # seconds before expiry credentials stop signing (minio-py's; at most a quarter of life)
RETRY_AFTER: Final = 10.0  # seconds before asking again when a renewal failed or gave the same credentials back
RECHECK_AFTER: Final = 300.0  # seconds a provider's credentials without an expiry are used before asking again


class CredentialsError(OSError):
    """MINIO_CREDENTIALS_PROVIDER could not give usable credentials; the operation that needed them fails."""


def provider_label(spec: Provider | str) -> str:
    """How messages name a provider: its dotted path, or its class."""
    return repr(spec) if isinstance(spec, str) else f"{type(spec).__module__}.{type(spec).__qualname__} instance"


@dataclass(frozen=True, slots=True)
class Lease:
    """Credentials to sign with, and until when, in Unix seconds: they expire at `expires_at` (None: never), sign
    nothing from `usable_until` on, and the provider is asked again from `renew_at` on."""

    credentials: SigningCredentials
    expires_at: float | None = None
    usable_until: float = math.inf
    renew_at: float = math.inf
    fingerprint: str = ""  # tells credentials apart without holding the secret
    sdk: Credentials | None = field(default=None, repr=False, compare=False)  # the same, as minio-py takes them

    def usable(self, now: float) -> bool:
        return now < self.usable_until

    def retry_later(self) -> Lease:
        """The same credentials, the provider asked again after RETRY_AFTER seconds (or when they stop signing)."""
        renew_at = min(time.time() + RETRY_AFTER, self.usable_until)
        return Lease(self.credentials, self.expires_at, self.usable_until, renew_at, self.fingerprint, self.sdk)


def _fingerprint(credentials: Credentials) -> str:
    material = f"{credentials.access_key}\n{credentials.secret_key}\n{credentials.session_token or ''}"
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


class _ProviderCredentials:
    """One provider's credentials in this process (an entry of `_leases`)."""

    __slots__ = ("_lease", "_lock", "_provider", "label", "region", "spec")

    def __init__(self, spec: Provider | str, region: str) -> None:
        self.spec = spec
        self.region = region
        self.label = provider_label(spec)
        self._provider: Provider | None = spec if isinstance(spec, Provider) else None
        self._lease: Lease | None = None
        self._lock = threading.Lock()  # this object is per process: a forked child builds its own, lock included

    def lease(self) -> Lease:
        lease = self._lease
        if lease is not None and time.time() < lease.renew_at:
            return lease
        return self._renew(lease)

    def _renew(self, seen: Lease | None) -> Lease:
        """Ask the provider once, under the lock. A thread finding the lock taken keeps signing with credentials that
        are still good; without such credentials it waits for the renewal."""
        usable = seen is not None and seen.usable(time.time())
        if not self._lock.acquire(blocking=not usable):
            assert seen is not None
            return seen
        try:
            current = self._lease
            if current is not None and current is not seen and time.time() < current.renew_at:
                return current  # renewed by another thread while this one waited
            try:
                fresh = self._fetch(renewing=current is not None)
            except CredentialsError as error:
                if current is None or not current.usable(time.time()):
                    raise
                logger.warning("Renewing credentials failed, still signing with the current ones: %s", error)
                fresh = current.retry_later()
            if fresh.renew_at <= time.time():
                fresh = fresh.retry_later()  # the provider still hands out these: ask again in a while, not per call
            self._lease = fresh
            return fresh
        finally:
            self._lock.release()

    def _fetch(self, *, renewing: bool) -> Lease:
        """Credentials from the provider: built from its dotted path on first use and for each renewal."""
        asked = time.time()
        try:
            if self._provider is None or (renewing and isinstance(self.spec, str)):
                self._provider = _build(self.spec)
            given = self._provider.retrieve()
        except Exception as exc:
            message = f"MINIO_CREDENTIALS_PROVIDER {self.label} could not give credentials: {exc!r}"
            raise CredentialsError(message) from exc
        if not isinstance(given, Credentials):
            message = f"MINIO_CREDENTIALS_PROVIDER {self.label} returned {type(given).__name__}, not minio Credentials"
            raise CredentialsError(message)
        signing = SigningCredentials(given.access_key, given.secret_key, self.region, given.session_token or None)
        if given.expiration is None:
            return Lease(signing, None, math.inf, asked + RECHECK_AFTER, _fingerprint(given), given)
        expires_at = given.expiration.replace(tzinfo=UTC).timestamp()
        life = expires_at - asked
        usable_until = expires_at - min(EXPIRED_BEFORE, life / 4)
        if usable_until <= time.time():
            message = f"MINIO_CREDENTIALS_PROVIDER {self.label} returned credentials expiring at {given.expiration} UTC"
            raise CredentialsError(message)
        renew_at = expires_at - min(RENEW_BEFORE, life / 2)
        return Lease(signing, expires_at, usable_until, renew_at, _fingerprint(given), given)


def _build(spec: Provider | str) -> Provider:
    """A provider from a dotted path to a zero-argument callable (settings checked that it imports)."""
    if isinstance(spec, Provider):
        return spec
    factory: Callable[[], object] = import_string(spec)
    provider = factory()
    if not isinstance(provider, Provider):
        raise TypeError(f"{spec} returned {type(provider).__name__}, not a minio.credentials.Provider")
    return provider


_leases: PerProcess[tuple[Provider | str, str], _ProviderCredentials] = PerProcess()


class CredentialsSource:
    """The credentials of one alias: a constant lease for static keys, this process's provider lease otherwise.

    Built once per storage, connection or URL builder; `lease()` is called for every signature and is a plain
    attribute read for static keys, a registry lookup and a clock read for a provider.
    """

    __slots__ = ("_key", "_static", "label")

    def __init__(self, settings: MinioSettings) -> None:
        spec = settings.credentials_provider
        if spec is None:
            assert settings.access_key is not None and settings.secret_key is not None  # parsing makes sure
            signing = SigningCredentials(settings.access_key, settings.secret_key, settings.region)
            self._static: Lease | None = Lease(signing, fingerprint=settings.credentials_id)
            self._key: tuple[Provider | str, str] | None = None
            self.label = "MINIO_ACCESS_KEY"
        else:
            self._static = None
            self._key = (spec, settings.region)
            self.label = provider_label(spec)

    @property
    def is_static(self) -> bool:
        return self._static is not None

    def lease(self) -> Lease:
        """Credentials good for at least EXPIRED_BEFORE more seconds, or CredentialsError."""
        if self._static is not None:
            return self._static
        key = self._key
        assert key is not None
        return _leases.get(key, _ProviderCredentials, *key).lease()


class SDKProvider(Provider):
    """Hands minio-py's client the credentials this process's signer uses, so SDK calls and our own requests never
    sign with two different identities. The client asks for them before every request."""

    def __init__(self, source: CredentialsSource) -> None:
        self._source = source

    def retrieve(self) -> Credentials:
        lease = self._source.lease()
        if lease.sdk is not None:
            return lease.sdk
        signing = lease.credentials
        return Credentials(signing.access_key, signing.secret_key, signing.session_token)
