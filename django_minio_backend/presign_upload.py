"""Presigned URLs other than GET (a PUT or HEAD of one object) and POST policies, for one bucket; no I/O.

Behind ``MinioBackend.url(name, http_method=...)`` and ``MinioBackend.presigned_post(...)``. Unlike GET URLs
these are never cached: a write URL is handed out once, for one upload.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from .credentials import CredentialsSource
from .presign import Expiry, expiry_seconds, external_base, lease_expiry
from .settings import MinioSettings
from .signing import SigningCredentials, quote_object_key
from .upload_signing import PostPolicy, post_policy, presign_url

__all__ = ["METHODS", "PostPolicy", "UploadURLs"]

METHODS: Final = frozenset({"GET", "PUT", "HEAD"})
_TYPE_PREFIX_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-")


def _check_content_type(content_type: str) -> None:
    """An exact type ("image/png") or a prefix of one ("image/"); anything else is refused, not guessed at."""
    kind, slash, subtype = content_type.partition("/")
    if not slash or not kind or not set(kind.lower()) <= _TYPE_PREFIX_CHARS or not subtype.isprintable():
        raise ValueError(f"content_type must be a media type (image/png) or its prefix (image/), not {content_type!r}")


class UploadURLs:
    """Write URLs and POST policies of one bucket, signed for the external endpoint like every URL users get."""

    __slots__ = ("_credentials", "_default_expiry", "_host", "_public", "_scheme", "bucket")

    def __init__(self, settings: MinioSettings, bucket: str) -> None:
        self._scheme, self._host = external_base(settings)
        self._credentials = CredentialsSource(settings)
        self._default_expiry = settings.url_expiry_seconds
        self._public = settings.is_public(bucket)
        self.bucket = bucket

    def url(
        self,
        method: str,
        key: str,
        *,
        parameters: Mapping[str, str] | None = None,
        expire: Expiry = None,
        query: tuple[tuple[str, str], ...] = (),
    ) -> str:
        """A presigned ``PUT`` or ``HEAD`` of the object ``key`` (MINIO_KEY_PREFIX included). A PUT's
        ``parameters`` are headers the upload must send with exactly these values (``{"Content-Type":
        "image/png"}``); a HEAD's are signed query parameters, as for GET. A HEAD of a public bucket without
        parameters is the plain URL."""
        if method == "HEAD" and self._public and not parameters and not query:
            scheme, host = self._scheme, self._host
            return f"{scheme}://{host}/{quote_object_key(self.bucket)}/{quote_object_key(key)}"
        headers: Mapping[str, str] = {}
        if method == "PUT":
            headers = parameters or {}
        elif parameters:
            query = (*query, *parameters.items())
        now = datetime.now(tz=UTC)
        credentials, seconds = self._signing(expire, now)
        return presign_url(
            method=method,
            scheme=self._scheme,
            host=self._host,
            bucket=self.bucket,
            key=key,
            credentials=credentials,
            expires=seconds,
            now=now,
            query=query,
            headers=headers,
        )

    def post(self, key: str, *, max_size: int, content_type: str | None, expire: Expiry) -> PostPolicy:
        """A POST policy for exactly the object ``key``: 1 to ``max_size`` bytes, the content type (exact, or a prefix
        ending in ``/``) when given, valid for ``expire`` (the alias's URL expiry by default)."""
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be a number of bytes >= 1, not {max_size!r}")
        if content_type is not None:
            _check_content_type(content_type)
        now = datetime.now(tz=UTC)
        credentials, seconds = self._signing(expire, now)
        return post_policy(
            scheme=self._scheme,
            host=self._host,
            bucket=self.bucket,
            key=key,
            credentials=credentials,
            max_size=max_size,
            content_type=content_type,
            expires=seconds,
            now=now,
        )

    def _signing(self, expire: Expiry, now: datetime) -> tuple[SigningCredentials, int]:
        """The credentials to sign with and the expiry, cut so an upload URL never outlives its credentials."""
        lease = self._credentials.lease()
        seconds = expiry_seconds(expire, self._default_expiry)
        label = self._credentials.label
        return lease.credentials, lease_expiry(
            lease, seconds, now.timestamp(), label=label, too_late="an upload could start"
        )
