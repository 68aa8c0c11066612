"""SigV4 for requests a browser sends itself: presigned URLs of any method with signed headers, and POST policies.

Pure functions (no Django, no network), like signing.py, whose encoding and key derivation they share. Neither is
on a hot path: a form asks for one ticket per upload, so clarity beats the per-day key cache of signing.py.

- ``presign_url``: a URL for one request (``PUT`` of an object or of a multipart part, ``HEAD``), with headers
  the request must then carry exactly (``Content-Type``, ``Content-Length``), listed in ``X-Amz-SignedHeaders``.
- ``post_policy``: the form fields of an HTML form POST (S3's "browser-based upload"), whose policy document
  and signature equal minio-py's ``presigned_post_policy`` for the same conditions and time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from .signing import (
    _ALGORITHM,
    UNSIGNED_PAYLOAD,
    SigningCredentials,
    _amz_date,
    _derive_signing_key,
    canonical_query,
    check_expires,
    normalise_endpoint,
    quote_object_key,
)

__all__ = ["PostPolicy", "post_policy", "presign_url"]

_HEADER_NAME_CHARS: Final = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


def _signature(secret_key: str, day: str, region: str, string_to_sign: str) -> str:
    return hmac.new(_derive_signing_key(secret_key, day, region), string_to_sign.encode(), hashlib.sha256).hexdigest()


def presign_url(
    *,
    method: str,
    scheme: str,
    host: str,
    bucket: str,
    key: str,
    credentials: SigningCredentials,
    expires: int,
    now: datetime,
    query: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> str:
    """A URL valid for ``expires`` seconds from ``now`` for one ``method`` request on ``bucket/key``.

    ``query`` holds raw pairs signed into the URL (``partNumber`` and ``uploadId`` of a part, ``response-*``);
    every entry of ``headers`` is signed, so the request must send exactly that value (a different
    ``Content-Type`` or ``Content-Length`` makes the server refuse it with ``SignatureDoesNotMatch``)."""
    check_expires(expires)
    scheme, host = normalise_endpoint(scheme, host)
    signed = {"host": host}
    for name, value in (headers or {}).items():
        lower = name.lower()
        if not lower or not set(lower) <= _HEADER_NAME_CHARS or lower == "host":
            raise ValueError(f"{name!r} cannot be signed as a request header")
        signed[lower] = " ".join(str(value).split())  # SigV4 trims and squeezes header values
    names = ";".join(sorted(signed))
    stamp = _amz_date(now)
    day = stamp[:8]
    scope = f"{day}/{credentials.region}/s3/aws4_request"
    pairs = [
        *query,
        ("X-Amz-Algorithm", _ALGORITHM),
        ("X-Amz-Credential", f"{credentials.access_key}/{scope}"),
        ("X-Amz-Date", stamp),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", names),
    ]
    if credentials.session_token:
        pairs.append(("X-Amz-Security-Token", credentials.session_token))
    encoded_query = canonical_query(pairs)
    path = f"/{bucket}/{quote_object_key(key)}"
    header_block = "".join(f"{name}:{signed[name]}\n" for name in sorted(signed))
    request = f"{method}\n{path}\n{encoded_query}\n{header_block}\n{names}\n{UNSIGNED_PAYLOAD}"
    to_sign = f"{_ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
    signature = _signature(credentials.secret_key, day, credentials.region, to_sign)
    return f"{scheme}://{host}{path}?{encoded_query}&X-Amz-Signature={signature}"


@dataclass(frozen=True, slots=True)
class PostPolicy:
    """Where and what an HTML form POST sends: ``url``, and ``fields`` to send before the file (S3 reads the
    file from the form's last field, ``file``)."""

    url: str
    fields: dict[str, str]


def _iso8601(moment: datetime) -> str:
    """The policy's expiration as minio-py writes it: UTC, milliseconds, ``Z``."""
    moment = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def post_policy(
    *,
    scheme: str,
    host: str,
    bucket: str,
    key: str,
    credentials: SigningCredentials,
    max_size: int,
    content_type: str | None,
    expires: int,
    now: datetime,
) -> PostPolicy:
    """Sign a POST policy that accepts exactly one object: ``key``, 1 to ``max_size`` bytes, and a
    ``Content-Type`` equal to ``content_type`` (or starting with it, when it ends with ``/``), until ``now`` +
    ``expires`` seconds. The conditions come in minio-py's order, so the document is the same bytes."""
    check_expires(expires)
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1 byte, not {max_size}")
    scheme, host = normalise_endpoint(scheme, host)
    stamp = _amz_date(now)
    credential = f"{credentials.access_key}/{stamp[:8]}/{credentials.region}/s3/aws4_request"
    conditions: list[list[str | int]] = [["eq", "$bucket", bucket], ["eq", "$key", key]]
    fields = {"key": key}
    if content_type is not None and not content_type.endswith("/"):
        conditions.append(["eq", "$Content-Type", content_type])
        fields["Content-Type"] = content_type
    elif content_type is not None:  # a prefix such as "image/": the form sends the file's own type
        conditions.append(["starts-with", "$Content-Type", content_type])
    conditions += [
        ["content-length-range", 1, max_size],
        ["eq", "$x-amz-algorithm", _ALGORITHM],
        ["eq", "$x-amz-credential", credential],
    ]
    if credentials.session_token:  # temporary credentials: the token is a condition and a field
        conditions.append(["eq", "$x-amz-security-token", credentials.session_token])
    conditions.append(["eq", "$x-amz-date", stamp])
    expiration = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)) + timedelta(seconds=expires)
    document = json.dumps({"expiration": _iso8601(expiration), "conditions": conditions})
    encoded = base64.b64encode(document.encode()).decode()
    fields |= {
        "x-amz-algorithm": _ALGORITHM,
        "x-amz-credential": credential,
        "x-amz-date": stamp,
        "policy": encoded,
        "x-amz-signature": _signature(credentials.secret_key, stamp[:8], credentials.region, encoded),
    }
    if credentials.session_token:
        fields["x-amz-security-token"] = credentials.session_token
    return PostPolicy(url=f"{scheme}://{host}/{bucket}", fields=fields)
