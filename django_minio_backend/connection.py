"""The connection to one server with one identity: this process's pool, SDK client and signed requests.

One pool and one `minio.Minio` per (endpoint, credentials, TLS, region, timeouts) per process, so storages
built for many buckets share connections. Both live in per-process registries: a forked child (gunicorn,
celery prefork) builds its own instead of sharing sockets with its parent, and `S3Connection` looks them
up at each use, never keeping one.

Uploads and ranged reads send header-signed requests of their own (`S3Connection.request`), because the
SDK cannot send every header they need (If-None-Match on writes) and its upload path is slow; everything
else goes through the SDK client. A signed request is repeated only when repeating it cannot change the
outcome: the server cannot have acted on it (the connection never opened, the body never fully left this
process, or the server said it timed out reading it), the caller says it is idempotent, or, for a write
that may have been carried out (a 5xx answer, or a connection lost after the whole request went out), the
caller's `settle` has made sure that sending it again is safe.
"""

from __future__ import annotations

import base64
import functools
import http
import logging
import random
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple, TypeVar, cast
from zlib import crc32

import urllib3
from minio import Minio
from minio.error import S3Error
from urllib3.exceptions import ConnectTimeoutError, HTTPError, InvalidHeader
from urllib3.util import Retry

from . import deadlines
from .credentials import CredentialsSource, SDKProvider
from .per_process import PerProcess
from .pool import SDK_RETRIES, new_pool
from .settings import MinioSettings
from .signing import canonical_query, quote_object_key, sign_headers

__all__ = [
    "ATTEMPTS",
    "CHECKSUM_HEADER",
    "Buffer",
    "S3Connection",
    "SourceError",
    "client_key",
    "error_from_xml",
    "get_client",
    "http_pool",
    "new_client",
]

logger = logging.getLogger(__name__)

Buffer = bytes | bytearray | memoryview
ATTEMPTS: Final = 4  # one try and three retries
RETRY_STATUSES: Final = frozenset({500, 502, 503, 504})
# A checksum the server found wrong (BadDigest: S3, SeaweedFS; XAmzContentChecksumMismatch: MinIO) means the body
# was damaged on the way and refused, so sending it again is safe whatever the request.
RETRY_CODES: Final = frozenset(
    {"InternalError", "RequestTimeout", "ServiceUnavailable", "SlowDown", "BadDigest", "XAmzContentChecksumMismatch"}
)
CHECKSUM_HEADER: Final = "x-amz-checksum-crc32"  # S3's checksum header of a body, checked by the server
BACKOFF_BASE: Final = 0.2
MAX_DELAY: Final = deadlines.MAX_RETRY_DELAY  # a longer Retry-After is cut to this; attempts stay bounded either way
ERROR_BODY_LIMIT: Final = 64 * 1024  # an error document is a few hundred bytes; more is not read


# -- this process's pools and SDK clients -----------------------------------------------------------------------


class _ClientKey(NamedTuple):
    endpoint: str
    access_key: str  # "" with a credentials provider
    credentials_id: str  # changes with the secret, which the key never holds; names the provider, if any
    secure: bool
    region: str
    connect_timeout: float
    read_timeout: float
    custom_pool: int


_clients: PerProcess[_ClientKey, Minio] = PerProcess()
_pools: PerProcess[_ClientKey, urllib3.PoolManager] = PerProcess()


def client_key(settings: MinioSettings) -> _ClientKey:
    """What tells two aliases' clients apart; computed once by callers that look a pool up per request."""
    return _ClientKey(
        endpoint=settings.endpoint,
        access_key=settings.access_key or "",
        credentials_id=settings.credentials_id,
        secure=settings.use_https,
        region=settings.region,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        custom_pool=id(settings.http_client) if settings.http_client is not None else 0,
    )


def _shared_pool(settings: MinioSettings) -> urllib3.PoolManager:
    """The user's MINIO_HTTP_CLIENT, or ours: bounded timeouts (the SDK's default waits 5 minutes), cut further by
    the call's deadline."""
    timeout = urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout)
    return settings.http_client or new_pool(settings, timeout=timeout, retries=SDK_RETRIES)


def http_pool(settings: MinioSettings, key: _ClientKey | None = None) -> urllib3.PoolManager:
    """This process's pool behind the alias's client; `key` is `client_key(settings)`, passed by callers that
    look the pool up per request."""
    return _pools.get(client_key(settings) if key is None else key, _shared_pool, settings)


def get_client(settings: MinioSettings, key: _ClientKey | None = None) -> Minio:
    """This process's shared SDK client for internal traffic (MINIO_ENDPOINT)."""
    key = client_key(settings) if key is None else key
    return _clients.get(key, _shared_client, settings, key)


def _shared_client(settings: MinioSettings, key: _ClientKey) -> Minio:
    return new_client(settings, http_pool(settings, key))


def new_client(settings: MinioSettings, pool: urllib3.PoolManager) -> Minio:
    """An SDK client for this alias's internal endpoint over the given pool (not cached). With a credentials
    provider it signs with this process's lease of it, the credentials our own requests use."""
    if settings.credentials_provider is not None:
        return Minio(
            endpoint=settings.endpoint,
            credentials=SDKProvider(CredentialsSource(settings)),
            secure=settings.use_https,
            region=settings.region,
            http_client=pool,
        )
    return Minio(
        endpoint=settings.endpoint,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        secure=settings.use_https,
        region=settings.region,
        http_client=pool,
    )


# -- signed requests --------------------------------------------------------------------------------------------


class SourceError(Exception):
    """The caller's data source failed while a request body was being sent; `original` is its exception."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


class _Body:
    """Hands a body to urllib3 chunk by chunk and notes whether all of it reached the socket."""

    def __init__(self, chunks: Iterable[Buffer]) -> None:
        self._chunks = chunks
        self.complete = False

    def __iter__(self) -> Iterator[bytes]:  # really any buffer: urllib3 hands each chunk to sendall()
        deadline = deadlines.current()
        if deadline is not None:
            deadline.pause()  # sending the body is progress, not waiting: the deadline counts the rest
        try:
            yield from cast(Iterable[bytes], self._chunks)
        finally:
            if deadline is not None:
                deadline.resume()
        self.complete = True  # urllib3 asks for the next chunk only after sendall() of the last one returned


def error_from_xml(response: urllib3.BaseHTTPResponse, data: bytes, bucket: str, key: str) -> S3Error:
    """An S3Error from an error document, or from the status line when the body is not one."""
    code = message = request_id = host_id = None
    try:
        root = ET.fromstring(data) if data else None
    except ET.ParseError:
        root = None
    if root is not None and root.tag.rsplit("}", 1)[-1] == "Error":
        code = root.findtext("Code")
        message = root.findtext("Message")
        request_id = root.findtext("RequestId")
        host_id = root.findtext("HostId")
    if not code:
        try:
            code = http.HTTPStatus(response.status).phrase.replace(" ", "")
        except ValueError:
            code = f"HTTP{response.status}"
        message = message or data[:200].decode(errors="replace") or None
    return S3Error(
        response=response,
        code=code,
        message=message,
        resource=f"/{bucket}/{key}",
        request_id=request_id or response.headers.get("x-amz-request-id"),
        host_id=host_id,
        bucket_name=bucket,
        object_name=key or None,
    )


def _error_body(response: urllib3.BaseHTTPResponse) -> bytes:
    """At most ERROR_BODY_LIMIT bytes of an error answer; a connection with more left unread is closed, not reused."""
    data = response.read(ERROR_BODY_LIMIT + 1)
    if len(data) > ERROR_BODY_LIMIT:
        response.close()
        data = data[:ERROR_BODY_LIMIT]
    response.release_conn()
    return data


def _retry_delay(attempt: int, response: urllib3.BaseHTTPResponse | None) -> float:
    """Retry-After when the server gave one that reads as seconds or a date, else exponential backoff with jitter."""
    header = response.headers.get("Retry-After") if response is not None else None
    if header is not None:
        try:
            return min(MAX_DELAY, Retry.DEFAULT.parse_retry_after(header))
        except (InvalidHeader, ValueError, OverflowError):  # a year out of range raises ValueError
            logger.info("unreadable Retry-After %r: backing off instead", header)
    return min(MAX_DELAY, BACKOFF_BASE * float(2**attempt) * random.uniform(0.5, 1.0))


_Request = TypeVar("_Request", bound=Callable[..., urllib3.BaseHTTPResponse])


def _within_deadline(request: _Request) -> _Request:
    """Bound one request, all its attempts and waits, by MINIO_REQUEST_DEADLINE (or by the deadline of the
    storage call it is part of); the time spent sending its body is not counted."""

    @functools.wraps(request)
    def bounded(self: S3Connection, method: str, bucket: str, key: str = "", *args: Any, **kwargs: Any) -> Any:
        with deadlines.within(self._deadline, f"{method} {bucket}/{key}"):
            return request(self, method, bucket, key, *args, **kwargs)

    return cast(_Request, bounded)


class S3Connection:
    """One endpoint with one identity: signed requests through the alias's shared pool, and its SDK client.

    The pool and the client are looked up in this process's registries at each use (a dict lookup by a key
    computed here once), never kept: an instance used before a fork must not hand the parent's sockets to the
    child. A storage owns one, shared by its uploads, its reads and its SDK calls.
    """

    __slots__ = ("_base", "_credentials", "_deadline", "_host", "_pool_key", "_scheme", "_settings", "endpoint")

    def __init__(self, settings: MinioSettings) -> None:
        self._scheme = "https" if settings.use_https else "http"
        self._host = settings.endpoint
        self._base = f"{self._scheme}://{settings.endpoint}"
        self._credentials = CredentialsSource(settings)
        self._settings = settings
        self._pool_key = client_key(settings)
        self._deadline = settings.request_deadline
        self.endpoint = settings.endpoint

    @property
    def client(self) -> Minio:
        """This process's SDK client for the endpoint and identity."""
        return get_client(self._settings, self._pool_key)

    def body_checksum(self, body: Buffer) -> dict[str, str]:
        """The header that makes the server check an in-memory body (sent with UNSIGNED-PAYLOAD): over plain HTTP
        its CRC32, which S3, MinIO and SeaweedFS verify, refusing a mismatch; a third of the CPU of the body's
        SHA-256 in the signature, which SeaweedFS does not verify at all. TLS already protects the bytes: none."""
        if self._scheme == "https":
            return {}
        return {CHECKSUM_HEADER: base64.b64encode(crc32(body).to_bytes(4, "big")).decode()}

    def multipart_checksum(self) -> dict[str, str]:
        """The header that announces, as a multipart upload begins, that its parts carry `body_checksum` (S3
        refuses a part's checksum the upload did not announce)."""
        return {} if self._scheme == "https" else {"x-amz-checksum-algorithm": "CRC32"}

    @_within_deadline
    def request(
        self,
        method: str,
        bucket: str,
        key: str = "",
        *,
        query: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        body: Buffer | Callable[[], Iterable[Buffer] | None] = b"",
        payload_sha256: str,
        length: int | None = None,
        idempotent: bool = True,
        settle: Callable[[], bool] | None = None,
        stream: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request, retrying transient failures; a non-2xx answer raises `S3Error`.

        `body` is bytes, or a factory returning a fresh iterable of chunks per attempt (None when it
        cannot start again, e.g. a stream that cannot seek); `length` is then required. `idempotent`
        allows repeating a request the server may already have carried out. For one that is not,
        `settle` is called after a failure that leaves open whether the server carried it out (a 5xx,
        or the connection lost after the whole request went out): it returns True once sending again
        is safe, False to give up with that failure, or raises to end the request its own way.
        Without it such a failure is raised at once. With `stream` the 2xx response is returned
        unread and the caller must read it to the end or close it.
        """
        path = f"/{bucket}/{quote_object_key(key)}" if key else f"/{bucket}"
        encoded_query = canonical_query(query)
        url = f"{self._base}{path}?{encoded_query}" if encoded_query else f"{self._base}{path}"
        extra = dict(headers or {})
        if isinstance(body, bytes | bytearray | memoryview):
            extra["Content-Length"] = str(memoryview(body).nbytes)
        elif length is not None:
            extra["Content-Length"] = str(length)
        else:
            raise ValueError("a streamed body needs its length")
        pool = http_pool(self._settings, self._pool_key)
        response: urllib3.BaseHTTPResponse | None = None
        failure: BaseException | None = None
        for attempt in range(ATTEMPTS):
            chunks = self._chunks(body)
            if chunks is None:  # a stream that cannot start again: the previous failure stands
                raise failure or RuntimeError(f"the body of {method} {path} cannot be sent again")
            if attempt:  # capped, and never past the deadline: raises DeadlineExceeded instead
                deadlines.retry_wait(_retry_delay(attempt - 1, response), failure)
            sent = _Body(chunks)
            signed = sign_headers(
                method=method,
                scheme=self._scheme,
                host=self._host,
                encoded_path=path,
                query=query,
                headers=extra,
                payload_sha256=payload_sha256,
                credentials=self._credentials.lease().credentials,  # asked per attempt: they may be renewed
                now=datetime.now(tz=UTC),
            )
            try:
                response = pool.request(
                    method,
                    url,
                    body=sent,
                    headers=signed,
                    retries=False,
                    redirect=False,
                    preload_content=False,
                    decode_content=False,
                )
            except SourceError as exc:
                raise exc.original from None
            except (HTTPError, OSError) as exc:
                # Repeating is safe when the server cannot have acted on the request: no connection,
                # or not all of the body sent (a server never completes a request with a short body).
                response = None
                failure = exc
                unsent = isinstance(exc, ConnectTimeoutError) or not sent.complete
                if unsent or idempotent or (settle is not None and settle()):
                    logger.info("%s %s failed (%r), attempt %d of %d", method, path, exc, attempt + 1, ATTEMPTS)
                    continue
                raise
            if 200 <= response.status < 300:
                if not stream:
                    response.read(cache_content=True)  # kept as response.data
                    response.release_conn()
                return response
            error = error_from_xml(response, _error_body(response), bucket, key)
            if response.status in RETRY_STATUSES or error.code in RETRY_CODES:
                # A 5xx may come from a gateway after the server acted; RequestTimeout (400) says it did not.
                failure = error
                if response.status >= 500 and not idempotent and not (settle is not None and settle()):
                    raise error
                logger.info(
                    "%s %s answered %s %s, attempt %d of %d",
                    method,
                    path,
                    response.status,
                    error.code,
                    attempt + 1,
                    ATTEMPTS,
                )
                continue
            raise error
        assert failure is not None
        raise failure

    @staticmethod
    def _chunks(body: Buffer | Callable[[], Iterable[Buffer] | None]) -> Iterable[Buffer] | None:
        if isinstance(body, bytes | bytearray | memoryview):
            return (body,) if len(body) else ()
        return body()
