"""AWS Signature Version 4 for S3, fast and byte-for-byte compatible with minio-py 7.2.

Pure functions only (no Django, no network). ``PresignedURLSigner`` sits behind ``Storage.url()``, the
hottest path of the backend, so everything that depends only on the endpoint is computed once and the
derived signing key is cached per day instead of being re-derived (four HMACs) for every URL.
URLs are path-style (``scheme://host/bucket/key``), which is what minio-py builds for non-AWS endpoints.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "EMPTY_SHA256",
    "MAX_PRESIGN_EXPIRES",
    "UNSIGNED_PAYLOAD",
    "PresignedURLSigner",
    "SigningCredentials",
    "canonical_query",
    "check_expires",
    "credentials_fingerprint",
    "normalise_endpoint",
    "quote_object_key",
    "sign_headers",
    "window_start",
]

UNSIGNED_PAYLOAD: str = "UNSIGNED-PAYLOAD"
EMPTY_SHA256: str = hashlib.sha256(b"").hexdigest()  # the payload hash of a request without a body
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600  # S3 refuses presigned URLs valid for longer than 7 days.

_ALGORITHM = "AWS4-HMAC-SHA256"
_TOKEN = "X-Amz-Security-Token"  # the session token of temporary credentials: in the query, or as a header
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
_PATH_SAFE = _UNRESERVED + b"/"
# Headers this module computes itself; same-named input headers are dropped so they cannot disagree.
_MANAGED_HEADERS = frozenset({"host", "x-amz-date", "x-amz-content-sha256", "authorization", "x-amz-security-token"})
# minio-py leaves these out of the signature (proxies may rewrite the user agent).
_UNSIGNED_HEADERS = frozenset({"authorization", "user-agent"})
_DEFAULT_PORT_SUFFIX = {"http": ":80", "https": ":443"}


@dataclass(frozen=True, slots=True)
class SigningCredentials:
    """What a signature needs; `session_token` comes with temporary credentials (STS) and is sent with every
    request and URL they sign."""

    access_key: str
    secret_key: str = field(repr=False)
    region: str
    session_token: str | None = field(default=None, repr=False)


def credentials_fingerprint(access_key: str, secret_key: str) -> str:
    """HMAC-SHA256 keyed with the secret over the access key: changes when either key changes, so cache and
    registry keys follow a rotated secret without holding it. It reveals no more of the secret than any
    presigned URL, which is an HMAC keyed with a key derived from it."""
    message = b"django-minio-backend credentials\n" + access_key.encode()
    return hmac.digest(secret_key.encode(), message, "sha256").hex()[:32]


def window_start(now: int, window: int) -> int:
    """The signing time of a URL built at `now` (Unix seconds) with stable windows of `window` seconds (0: off): the
    start of the epoch-aligned window holding `now`, so every process signs the same URL until the window ends.
    Never after `now`, so no server sees a date from the future."""
    return now - now % window if window > 0 else now


def _escape_table(safe: bytes) -> tuple[str, ...]:
    return tuple(chr(byte) if byte in safe else f"%{byte:02X}" for byte in range(256))


_PATH_TABLE = _escape_table(_PATH_SAFE)
_QUERY_TABLE = _escape_table(_UNRESERVED)


def quote_object_key(key: str) -> str:
    """Percent-encode an object key for the URL path; S3 signs the path exactly as sent, so this must match."""
    raw = key.encode()
    unsafe = raw.translate(None, _PATH_SAFE)
    if not unsafe:  # every byte is safe: the common case, no per-byte work
        return key
    if unsafe.isascii() and len(unsafe) <= 4:
        # A few unsafe ASCII characters (typically spaces): one str.replace per distinct one beats mapping every
        # byte. '%' goes first, so the escapes added afterwards are not escaped again.
        if 37 in unsafe:  # b"%"
            key = key.replace("%", "%25")
        for byte in set(unsafe):
            if byte != 37:
                key = key.replace(chr(byte), _PATH_TABLE[byte])
        return key
    return "".join([_PATH_TABLE[byte] for byte in raw])


def _quote_query(value: str) -> str:
    """Percent-encode a query key or value (like ``quote_object_key`` but '/' is encoded too)."""
    raw = value.encode()
    if not raw.rstrip(_UNRESERVED):
        return value
    return "".join([_QUERY_TABLE[byte] for byte in raw])


def canonical_query(query: Sequence[tuple[str, str]]) -> str:
    """The SigV4 canonical query string of raw (unencoded) pairs; also a valid URL query to send."""
    return "&".join([f"{key}={value}" for key, value in sorted([(_quote_query(k), _quote_query(v)) for k, v in query])])


def normalise_endpoint(scheme: str, host: str) -> tuple[str, str]:
    """Lower-case the scheme and drop a default port, as minio-py does, so Host and URL match it."""
    scheme = scheme.lower()
    suffix = _DEFAULT_PORT_SUFFIX.get(scheme)
    if suffix is None:
        raise ValueError(f"scheme must be http or https, not {scheme!r}")
    if host.endswith(suffix):
        # minio-py rebuilds the netloc from urllib's lower-cased hostname only in this case.
        host = host[: -len(suffix)].lower()
    return scheme, host


def check_expires(expires: int) -> None:
    """Refuse a presigned URL's lifetime outside 1 second to 7 days (S3's bounds)."""
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise ValueError(f"expires must be between 1 and {MAX_PRESIGN_EXPIRES} seconds, not {expires}")


def _amz_date(now: datetime | int) -> str:
    """``YYYYMMDDTHHMMSSZ`` of a datetime (naive ones are taken as UTC, as minio-py does) or of Unix seconds."""
    if isinstance(now, int):
        fields = time.gmtime(now)
        # printf-style formatting is about twice as fast as the equivalent f-string with format specs.
        return "%04d%02d%02dT%02d%02d%02dZ" % fields[:6]  # noqa: UP031
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    return "%04d%02d%02dT%02d%02d%02dZ" % (now.year, now.month, now.day, now.hour, now.minute, now.second)  # noqa: UP031


def _derive_signing_key(secret_key: str, day: str, region: str) -> bytes:
    key = hmac.digest(("AWS4" + secret_key).encode(), day.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, b"s3", "sha256")
    return hmac.digest(key, b"aws4_request", "sha256")


_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


class _HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the key's two pad blocks hashed once: per message this costs two hash copies
    instead of OpenSSL's full HMAC set-up, roughly halving the cost of the final signature."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(block.translate(_IPAD))
        self._outer = hashlib.sha256(block.translate(_OPAD))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


@lru_cache(maxsize=32)
def _cached_signing_hmac(secret_key: str, day: str, region: str) -> _HmacSha256:
    """For sign_headers, which has no instance to hold a cache; only a few (secret, day, region) are live at once."""
    return _HmacSha256(_derive_signing_key(secret_key, day, region))


class _Moment(NamedTuple):
    now: datetime | int
    expires: int
    stamp: str  # X-Amz-Date
    credential: str  # X-Amz-Credential, query-encoded
    amz: str  # the five X-Amz-* query parameters the URL ends with (before the signature), in canonical order
    signed_amz: str  # the same with the session token among them, as the canonical query holds them
    head: str  # string to sign up to the request hash
    signer: _HmacSha256  # keyed with that day's signing key


class PresignedURLSigner:
    """Builds presigned GET URLs for one (scheme, host, credentials) fast. Temporary credentials add their session
    token as X-Amz-Security-Token, listed and signed where minio-py puts it."""

    __slots__ = (
        "_credential_head",
        "_credential_tail",
        "_host_block",
        "_keys",
        "_memo",
        "_region",
        "_scope_tail",
        "_secret",
        "_token",
        "_token_query",
        "_url_head",
    )

    def __init__(self, *, scheme: str, host: str, credentials: SigningCredentials) -> None:
        scheme, host = normalise_endpoint(scheme, host)
        self._secret = credentials.secret_key
        self._region = credentials.region
        self._url_head = f"{scheme}://{host}/"
        self._host_block = f"host:{host}\n\nhost\n{UNSIGNED_PAYLOAD}"
        # X-Amz-Credential is "<access key>/<day>/<region>/s3/aws4_request", query-encoded around the day.
        self._credential_head = _quote_query(credentials.access_key + "/")
        self._credential_tail = _quote_query(f"/{credentials.region}/s3/aws4_request")
        self._scope_tail = f"/{credentials.region}/s3/aws4_request\n"
        self._token = credentials.session_token
        self._token_query = f"{_TOKEN}={_quote_query(self._token)}" if self._token else ""
        self._keys: dict[str, _HmacSha256] = {}  # day ("YYYYMMDD") -> HMAC keyed with that day's signing key
        # The parts that depend only on (now, expires), from the last call: URLs built in the same second
        # with the same expiry (a page of thumbnails) share them. One tuple, so threads never see half of it.
        self._memo: _Moment = _Moment(-1, 0, "", "", "", "", "", _HmacSha256(b""))

    def _signing_hmac(self, day: str) -> _HmacSha256:
        signer = self._keys.get(day)
        if signer is None:
            if len(self._keys) >= 4:  # only today (and, around midnight, yesterday) is ever needed
                self._keys.clear()
            signer = self._keys[day] = _HmacSha256(_derive_signing_key(self._secret, day, self._region))
        return signer

    def _moment(self, now: datetime | int, expires: int) -> _Moment:
        stamp = _amz_date(now)
        day = stamp[:8]
        credential = f"{self._credential_head}{day}{self._credential_tail}"
        before = (
            f"X-Amz-Algorithm={_ALGORITHM}&X-Amz-Credential={credential}&X-Amz-Date={stamp}&X-Amz-Expires={expires}"
        )
        amz = f"{before}&X-Amz-SignedHeaders=host"
        # Sorted, X-Amz-Security-Token falls between X-Amz-Expires and X-Amz-SignedHeaders.
        signed_amz = f"{before}&{self._token_query}&X-Amz-SignedHeaders=host" if self._token_query else amz
        head = f"{_ALGORITHM}\n{stamp}\n{day}{self._scope_tail}"
        return _Moment(now, expires, stamp, credential, amz, signed_amz, head, self._signing_hmac(day))

    def presign_get(
        self, *, bucket: str, key: str, expires: int, now: datetime | int, query: Mapping[str, str] | None = None
    ) -> str:
        """A GET URL valid for ``expires`` seconds from ``now`` (a datetime or Unix seconds); ``query`` params
        (e.g. response-*) are signed too."""
        check_expires(expires)
        moment = self._memo
        if moment.now != now or moment.expires != expires:
            moment = self._memo = self._moment(now, expires)
        path = f"{bucket}/{quote_object_key(key)}"
        if query and self._token:
            query = {**query, _TOKEN: self._token}  # the credentials' token wins over a caller's, as in minio-py
        if query:
            # The URL lists extra params by raw name (as minio-py does); the signature sorts encoded pairs.
            extra = [(name, _quote_query(name), _quote_query(value)) for name, value in query.items()]
            extra.sort()
            url_query = "&".join([f"{name}={value}" for _, name, value in extra]) + "&" + moment.amz
            pairs = [(name, value) for _, name, value in extra]
            pairs += [
                ("X-Amz-Algorithm", _ALGORITHM),
                ("X-Amz-Credential", moment.credential),
                ("X-Amz-Date", moment.stamp),
                ("X-Amz-Expires", str(expires)),
                ("X-Amz-SignedHeaders", "host"),
            ]
            pairs.sort()
            signed_query = "&".join([f"{name}={value}" for name, value in pairs])
        elif self._token_query:  # minio-py lists the token first, with the other parameters it was given
            url_query = f"{self._token_query}&{moment.amz}"
            signed_query = moment.signed_amz
        else:
            url_query = signed_query = moment.amz  # already in canonical (sorted) order
        request = f"GET\n/{path}\n{signed_query}\n{self._host_block}"
        to_sign = moment.head + hashlib.sha256(request.encode()).hexdigest()
        signature = moment.signer.hexdigest(to_sign.encode())
        return f"{self._url_head}{path}?{url_query}&X-Amz-Signature={signature}"


def _squeeze(value: str) -> str:
    """Collapse runs of spaces and trim, as minio-py does for canonical header values."""
    while "  " in value:
        value = value.replace("  ", " ")
    return value.strip()


def sign_headers(
    *,
    method: str,
    scheme: str,
    host: str,
    encoded_path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    payload_sha256: str,
    credentials: SigningCredentials,
    now: datetime,
) -> dict[str, str]:
    """Return the headers to send (input headers + host, x-amz-date, x-amz-content-sha256, Authorization, and
    X-Amz-Security-Token for temporary credentials) for a header-signed SigV4 S3 request (used for our own PUT /
    UploadPart / CompleteMultipartUpload / ranged GET over urllib3).

    ``encoded_path`` is the path as sent (e.g. ``"/bucket/" + quote_object_key(key)``); ``query`` holds raw pairs and
    must be sent as ``canonical_query(query)``. All input headers except User-Agent are signed.
    """
    _, host = normalise_endpoint(scheme, host)
    stamp = _amz_date(now)
    day = stamp[:8]
    region = credentials.region
    send: dict[str, str] = {}
    signed = {"host": host, "x-amz-content-sha256": payload_sha256, "x-amz-date": stamp}
    if credentials.session_token:  # temporary credentials: the token is a signed header
        signed["x-amz-security-token"] = _squeeze(credentials.session_token)
    for name, value in headers.items():
        lower = name.lower()
        if lower in _MANAGED_HEADERS:
            continue
        send[name] = value
        if lower not in _UNSIGNED_HEADERS:
            signed[lower] = _squeeze(value)
    names = sorted(signed)
    signed_names = ";".join(names)
    header_block = "".join([f"{name}:{signed[name]}\n" for name in names])
    request = (
        f"{method}\n{encoded_path or '/'}\n{canonical_query(query)}\n{header_block}\n{signed_names}\n{payload_sha256}"
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = f"{_ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
    signature = _cached_signing_hmac(credentials.secret_key, day, region).hexdigest(to_sign.encode())
    send["host"] = host
    send["x-amz-date"] = stamp
    send["x-amz-content-sha256"] = payload_sha256
    if credentials.session_token:
        send["X-Amz-Security-Token"] = credentials.session_token
    send["Authorization"] = (
        f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={signed_names}, Signature={signature}"
    )
    return send
