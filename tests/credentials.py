"""Credentials providers for the tests: real `minio.credentials.Provider`s, named by dotted path in settings."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

from minio.credentials.credentials import Credentials
from minio.credentials.providers import Provider, StaticProvider

from tests.servers import ACCESS_KEY, PROVIDER_IDENTITIES, SECRET_KEY, minio_from_env

PROVIDER_ACCESS_KEY = "provider-ak"  # what the providers without a server hand out
calls: dict[int, int] = {}  # pid -> how often a factory below was called in that process


def counted() -> None:
    calls[os.getpid()] = calls.get(os.getpid(), 0) + 1


def static_provider() -> Provider:
    """Fixed keys, no expiry (for settings that need a provider but no server)."""
    counted()
    return StaticProvider(PROVIDER_ACCESS_KEY, "provider-sk")


def server_keys() -> tuple[str, str]:
    """The test server's main identity (SeaweedFS's, or MINIO_TEST_*'s)."""
    server = minio_from_env()
    return (server.access_key, server.secret_key) if server is not None else (ACCESS_KEY, SECRET_KEY)


def server_provider() -> Provider:
    """The test server's main identity, as a provider; counts its calls per process."""
    counted()
    return StaticProvider(*server_keys())


def identity_b_provider() -> Provider:
    """The test server's second provider identity (no expiry)."""
    counted()
    access_key = sorted(PROVIDER_IDENTITIES)[1]
    return StaticProvider(access_key, PROVIDER_IDENTITIES[access_key])


def session_provider() -> Provider:
    """The main identity with a session token and an expiry an hour away (the token is not checked by the server's
    static identities, so this only shapes what is signed)."""
    counted()
    return TokenProvider(ACCESS_KEY, SECRET_KEY, token="FQoGZXIvYXdzEXAMPLE//token+with/slashes==", life=3600.0)


def failing_provider() -> Provider:
    return FailingProvider()


class FailingProvider(Provider):
    """An STS endpoint that is down."""

    def __init__(self) -> None:
        self.calls = 0

    def retrieve(self) -> Credentials:
        self.calls += 1
        raise ConnectionError("sts.example.com: connection refused")


class TokenProvider(Provider):
    """Fixed keys with a session token, valid for `life` seconds from each retrieve()."""

    def __init__(self, access_key: str, secret_key: str, *, token: str, life: float) -> None:
        self._credentials = (access_key, secret_key, token)
        self._life = life

    def retrieve(self) -> Credentials:
        access_key, secret_key, token = self._credentials
        expiration = datetime.fromtimestamp(time.time() + self._life, UTC)
        return Credentials(access_key, secret_key, token, expiration)


class RotatingProvider(Provider):
    """Hands out the identities in turn (the last one again and again), each for `life` seconds, and a new one when
    asked after half of that, like an STS issuing a session per renewal; records what it handed out."""

    def __init__(self, identities: list[tuple[str, str]], life: float) -> None:
        self._identities = identities
        self._life = life
        self._lock = threading.Lock()
        self._current: Credentials | None = None
        self._new_from = 0.0
        self.handed_out: list[tuple[str, float]] = []  # (access key, expiry as Unix seconds)

    def retrieve(self) -> Credentials:
        with self._lock:
            now = time.time()
            if self._current is not None and now < self._new_from:
                return self._current
            access_key, secret_key = self._identities[min(len(self.handed_out), len(self._identities) - 1)]
            expires_at = now + self._life
            self._current = Credentials(access_key, secret_key, None, datetime.fromtimestamp(expires_at, UTC))
            self._new_from = now + self._life / 2
            self.handed_out.append((access_key, expires_at))
            return self._current
