"""SigV4 signing: byte-for-byte parity with minio-py, AWS's published vectors, and a real signature-checking server."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache

import pytest
import urllib3
from hypothesis import example, given, settings
from hypothesis import strategies as st
from minio import Minio
from minio.credentials.credentials import Credentials
from minio.helpers import check_object_name, quote
from minio.signer import sign_v4_s3
from minio.time import to_amz_date

from django_minio_backend.signing import (
    UNSIGNED_PAYLOAD,
    PresignedURLSigner,
    SigningCredentials,
    _HmacSha256,
    canonical_query,
    quote_object_key,
    sign_headers,
)
from tests.helpers import drop_bucket, put_bytes
from tests.servers import S3Server

NOW = datetime(2024, 3, 1, 12, 34, 56, 789000, tzinfo=UTC)
REGION = "us-east-1"

# ---------------------------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------------------------

_unicode = st.characters(codec="utf-8")  # everything encodable: no lone surrogates
_awkward_piece = st.sampled_from(
    [*" +%~/#?&=;:@!$'()*,[]^`{}|\\\"<>\t\n", "ü", "日本", "🎉", "\u00a0", "\u200b", "%20", "%2F", "+/", "a", "Z9"]
)


def _minio_accepts(name: str) -> bool:
    try:
        check_object_name(name)
    except ValueError:
        return False
    return True


def _fit_1024(name: str) -> str:
    """Trim to S3's 1024-byte key limit without splitting a UTF-8 sequence."""
    return name.encode()[:1024].decode(errors="ignore")


_short_names = st.lists(st.one_of(_awkward_piece, st.text(_unicode, min_size=1, max_size=8)), min_size=1, max_size=40)
_long_names = st.builds(
    lambda unit, count: _fit_1024(unit * count), st.text(_unicode, min_size=1, max_size=6), st.integers(1, 1024)
)
object_names = st.one_of(_short_names.map("".join), _long_names).filter(_minio_accepts)

hosts = st.sampled_from(["127.0.0.1", "localhost", "minio", "s3.example.com", "Storage.Example.ORG"])
ports = st.one_of(st.none(), st.sampled_from([80, 443]), st.integers(1, 65535))
buckets = st.one_of(
    st.sampled_from(["b12", "media", "my-bucket", "my.dotted.bucket", "a" * 63]),
    st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,30}[a-z0-9]\Z"),
)
regions = st.one_of(
    st.sampled_from([REGION, "eu-west-3", "garage"]), st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")
)
access_keys = st.one_of(
    st.sampled_from(["minioadmin", "AKIAIOSFODNN7EXAMPLE", "a/b+c=d"]), st.text(_unicode, min_size=1)
)
secret_keys = st.text(_unicode, min_size=1, max_size=60)
# Session tokens of temporary credentials: none, STS-like (JWTs and AWS's base64 run to a few KB), or any text.
session_tokens = st.one_of(
    st.none(),
    st.from_regex(r"\A[A-Za-z0-9+/=._-]{1,1500}\Z"),
    st.text(_unicode, min_size=1, max_size=40),
)
zones: st.SearchStrategy[tzinfo] = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)), timezone(timedelta(hours=14))]
)
_earliest, _latest = datetime(2000, 1, 1), datetime(2200, 1, 1)
instants = st.one_of(  # naive datetimes are taken as UTC, aware ones in any offset
    st.datetimes(min_value=_earliest, max_value=_latest),
    st.datetimes(min_value=_earliest, max_value=_latest, timezones=zones),
)
_reserved = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders"}
query_names = st.one_of(
    st.sampled_from(
        [
            "response-content-disposition",
            "response-content-type",
            "response-cache-control",
            "response-content-language",
            "versionId",
            "X-Amz-Security-Token",
            "Zeta",
            "a b",
        ]
    ),
    st.text(_unicode, min_size=1, max_size=12).filter(lambda name: name not in _reserved),
)
queries = st.one_of(st.none(), st.dictionaries(query_names, st.text(_unicode, max_size=40), max_size=4))


@lru_cache(maxsize=256)
def _minio(
    endpoint: str, secure: bool, access_key: str, secret_key: str, region: str, session_token: str | None = None
) -> Minio:
    return Minio(
        endpoint=endpoint,
        access_key=access_key,
        secret_key=secret_key,
        session_token=session_token,
        secure=secure,
        region=region,
    )


def _endpoint(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


def _minio_presign(
    *,
    endpoint: str,
    secure: bool,
    creds: SigningCredentials,
    bucket: str,
    key: str,
    expires: int,
    now: datetime,
    query: dict[str, str] | None,
) -> str:
    client = _minio(endpoint, secure, creds.access_key, creds.secret_key, creds.region, creds.session_token)
    return client.presigned_get_object(
        bucket_name=bucket,
        object_name=key,
        expires=timedelta(seconds=expires),
        request_date=now,
        response_headers=dict(query) if query else None,
    )


def _ours(*, endpoint: str, secure: bool, creds: SigningCredentials) -> PresignedURLSigner:
    return PresignedURLSigner(scheme="https" if secure else "http", host=endpoint, credentials=creds)


# ---------------------------------------------------------------------------------------------------------------------
# Object key quoting
# ---------------------------------------------------------------------------------------------------------------------


@given(key=st.one_of(st.text(_unicode), st.lists(_awkward_piece, max_size=12).map("".join)))
@example(key="~")
@example(key="%7E")
@example(key="100% done 50%.txt")  # few unsafe ASCII characters, '%' among them: the replace path
@example(key="a b c d e f g")
@example(key=" %#?&")  # five distinct: the per-byte path
def test_quote_object_key_matches_minio(key: str) -> None:
    assert quote_object_key(key) == quote(key)


@given(key=st.binary(max_size=200), message=st.binary(max_size=300))
@example(key=b"k" * 64, message=b"")
@example(key=b"k" * 65, message=b"longer than a block")
def test_prepared_hmac_matches_stdlib(key: bytes, message: bytes) -> None:
    assert _HmacSha256(key).hexdigest(message) == hmac.new(key, message, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("key", "quoted"),
    [
        ("plain/dir/file-1_2.txt", "plain/dir/file-1_2.txt"),
        ("a b+c%d#e?f~g/h", "a%20b%2Bc%25d%23e%3Ff~g/h"),
        ("ü/日本", "%C3%BC/%E6%97%A5%E6%9C%AC"),
        ("already%20quoted", "already%2520quoted"),
        ("", ""),
    ],
)
def test_quote_object_key_escapes_all_but_unreserved_characters_and_slashes(key: str, quoted: str) -> None:
    assert quote_object_key(key) == quoted


def test_canonical_query_encodes_and_sorts() -> None:
    assert canonical_query([("prefix", "J"), ("max-keys", "2")]) == "max-keys=2&prefix=J"
    assert canonical_query([("uploads", "")]) == "uploads="
    assert canonical_query([("b", "x/y z"), ("a", "2"), ("a", "1")]) == "a=1&a=2&b=x%2Fy%20z"


# ---------------------------------------------------------------------------------------------------------------------
# Presigned GET: byte-identical with minio-py
# ---------------------------------------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    secure=st.booleans(),
    host=hosts,
    port=ports,
    access_key=access_keys,
    secret_key=secret_keys,
    session_token=session_tokens,
    region=regions,
    bucket=buckets,
    key=object_names,
    expires=st.integers(1, 7 * 24 * 3600),
    now=instants,
    query=queries,
)
@example(
    secure=True,
    host="s3.example.com",
    port=443,
    access_key="minioadmin",
    secret_key="minioadmin",
    session_token=None,
    region=REGION,
    bucket="media",
    key="x" * 1024,
    expires=604800,
    now=NOW,
    query=None,
)
@example(  # a caller's own X-Amz-Security-Token parameter gives way to the credentials' token, as in minio-py
    secure=False,
    host="127.0.0.1",
    port=9000,
    access_key="ASIAEXAMPLE",
    secret_key="sk",
    session_token="FwoGZXIvYXdzE+token/with=padding==",
    region=REGION,
    bucket="media",
    key="a b.jpg",
    expires=3600,
    now=NOW,
    query={"X-Amz-Security-Token": "forged", "response-content-type": "image/jpeg", "Zeta": "z"},
)
def test_presign_get_is_byte_identical_to_minio(
    secure: bool,
    host: str,
    port: int | None,
    access_key: str,
    secret_key: str,
    session_token: str | None,
    region: str,
    bucket: str,
    key: str,
    expires: int,
    now: datetime,
    query: dict[str, str] | None,
) -> None:
    endpoint = _endpoint(host, port)
    creds = SigningCredentials(access_key=access_key, secret_key=secret_key, region=region, session_token=session_token)
    expected = _minio_presign(
        endpoint=endpoint, secure=secure, creds=creds, bucket=bucket, key=key, expires=expires, now=now, query=query
    )
    ours = _ours(endpoint=endpoint, secure=secure, creds=creds)
    assert ours.presign_get(bucket=bucket, key=key, expires=expires, now=now, query=query) == expected


TRICKY_KEYS = [
    "simple.txt",
    "with space.txt",
    "plus+sign.txt",
    "percent%25and%20.txt",
    "hash#frag?query=1&x=2",
    "tilde~/nested/deep/file",
    "ünïcödé/日本語/🎉.bin",
    "trailing/",
    "/leading-slash",
    "double//slash",
    "...dots",
    "semi;colon,comma@at!bang$dollar'quote(paren)*star[br]{cu}|pipe\\back^caret`tick\"dq<lt>gt",
    "\t\n\r control",
    "é" * 512,  # 1024 bytes
]


@pytest.mark.parametrize("key", TRICKY_KEYS)
@pytest.mark.parametrize(
    ("endpoint", "secure"),
    [("127.0.0.1:9000", False), ("minio.local", True), ("minio.local:443", True), ("minio.local:80", False)],
)
def test_presign_get_tricky_keys_match_minio(key: str, endpoint: str, secure: bool) -> None:
    creds = SigningCredentials(access_key="AKIA/EXAMPLE+1", secret_key="s3cr3t/key+=", region=REGION)
    query = {"response-content-disposition": 'attachment; filename="naïve report.pdf"'}
    for q in (None, query):
        expected = _minio_presign(
            endpoint=endpoint, secure=secure, creds=creds, bucket="bkt", key=key, expires=3600, now=NOW, query=q
        )
        got = _ours(endpoint=endpoint, secure=secure, creds=creds).presign_get(
            bucket="bkt", key=key, expires=3600, now=NOW, query=q
        )
        assert got == expected


@pytest.mark.parametrize(
    ("scheme", "host", "prefix"),
    [
        ("http", "minio.local:80", "http://minio.local/"),
        ("https", "minio.local:443", "https://minio.local/"),
        ("HTTPS", "Minio.Local:443", "https://minio.local/"),
        ("http", "minio.local:443", "http://minio.local:443/"),
        ("https", "minio.local:80", "https://minio.local:80/"),
        ("https", "Minio.Local:9000", "https://Minio.Local:9000/"),
        ("http", "[::1]:9000", "http://[::1]:9000/"),
    ],
)
def test_default_ports_are_omitted_like_minio(scheme: str, host: str, prefix: str) -> None:
    creds = SigningCredentials(access_key="ak", secret_key="sk", region=REGION)
    url = PresignedURLSigner(scheme=scheme, host=host, credentials=creds).presign_get(
        bucket="b12", key="k", expires=60, now=NOW
    )
    assert url.startswith(prefix + "b12/k?")


def test_signing_key_cache_follows_the_date() -> None:
    """One signer reused across midnight (and back) must never sign with another day's key."""
    creds = SigningCredentials(access_key="ak", secret_key="sk", region="eu-west-3")
    signer = PresignedURLSigner(scheme="http", host="127.0.0.1:9000", credentials=creds)
    days = [NOW, NOW + timedelta(days=1), NOW, NOW + timedelta(days=2), NOW + timedelta(days=30), NOW]
    days += [NOW + timedelta(days=n) for n in range(10)]
    for moment in days:
        expected = _minio_presign(
            endpoint="127.0.0.1:9000",
            secure=False,
            creds=creds,
            bucket="b12",
            key="k",
            expires=60,
            now=moment,
            query=None,
        )
        assert signer.presign_get(bucket="b12", key="k", expires=60, now=moment) == expected


@settings(max_examples=50, deadline=None)
@given(
    calls=st.lists(
        st.tuples(
            st.sampled_from([NOW, NOW + timedelta(seconds=1), NOW + timedelta(days=1)]), st.sampled_from([60, 61])
        ),
        min_size=1,
        max_size=12,
    ),
    as_seconds=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_one_signer_over_changing_times_and_expiries_matches_minio(
    calls: list[tuple[datetime, int]], as_seconds: list[bool]
) -> None:
    """The signer reuses per-(time, expiry) parts between calls; they must never leak into another call."""
    creds = SigningCredentials(access_key="ak", secret_key="sk", region=REGION)
    signer = PresignedURLSigner(scheme="http", host="127.0.0.1:9000", credentials=creds)
    for (moment, expires), seconds in zip(calls, as_seconds, strict=False):
        expected = _minio_presign(
            endpoint="127.0.0.1:9000",
            secure=False,
            creds=creds,
            bucket="b12",
            key="k",
            expires=expires,
            now=moment,
            query=None,
        )
        now: datetime | int = int(moment.timestamp()) if seconds else moment
        assert signer.presign_get(bucket="b12", key="k", expires=expires, now=now) == expected


@given(moment=instants)
def test_unix_seconds_sign_like_the_datetime(moment: datetime) -> None:
    creds = SigningCredentials(access_key="ak", secret_key="sk", region=REGION)
    signer = PresignedURLSigner(scheme="http", host="127.0.0.1:9000", credentials=creds)
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    by_datetime = signer.presign_get(bucket="b12", key="k", expires=60, now=moment)
    assert signer.presign_get(bucket="b12", key="k", expires=60, now=int(aware.timestamp() // 1)) == by_datetime


def test_naive_and_aware_times_sign_the_same_instant() -> None:
    creds = SigningCredentials(access_key="ak", secret_key="sk", region=REGION)
    signer = PresignedURLSigner(scheme="http", host="127.0.0.1:9000", credentials=creds)
    naive_utc = datetime(2024, 3, 1, 23, 30)
    in_india = naive_utc.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert in_india.day == 2  # the local date differs; the signed date must not
    first = signer.presign_get(bucket="b12", key="k", expires=60, now=naive_utc)
    assert first == signer.presign_get(bucket="b12", key="k", expires=60, now=in_india)
    assert "X-Amz-Date=20240301T233000Z" in first


@pytest.mark.parametrize("expires", [0, -1, 7 * 24 * 3600 + 1])
def test_presign_rejects_expiry_outside_s3_limits(expires: int) -> None:
    signer = PresignedURLSigner(
        scheme="http", host="h:1", credentials=SigningCredentials(access_key="a", secret_key="s", region=REGION)
    )
    with pytest.raises(ValueError, match="expires"):
        signer.presign_get(bucket="b12", key="k", expires=expires, now=NOW)


def test_signer_rejects_an_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="scheme"):
        PresignedURLSigner(scheme="ftp", host="h", credentials=SigningCredentials("a", "s", REGION))


# ---------------------------------------------------------------------------------------------------------------------
# Header signing: AWS's documented examples and minio's signer
# ---------------------------------------------------------------------------------------------------------------------

AWS_CREDS = SigningCredentials(
    access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region="us-east-1"
)
AWS_NOW = datetime(2013, 5, 24, tzinfo=UTC)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "payload", "signed_headers", "signature"),
    [
        (  # GET Object with a Range header
            "GET",
            "/test.txt",
            [],
            {"Range": "bytes=0-9"},
            EMPTY_SHA256,
            "host;range;x-amz-content-sha256;x-amz-date",
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
        (  # PUT Object: '$' in the key, extra signed headers
            "PUT",
            "/" + quote_object_key("test$file.text"),
            [],
            {"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
            hashlib.sha256(b"Welcome to Amazon S3.").hexdigest(),
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        ),
        (  # GET Bucket Lifecycle: a value-less sub-resource
            "GET",
            "/",
            [("lifecycle", "")],
            {},
            EMPTY_SHA256,
            "host;x-amz-content-sha256;x-amz-date",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        ),
        (  # List Objects: query params out of order
            "GET",
            "/",
            [("prefix", "J"), ("max-keys", "2")],
            {},
            EMPTY_SHA256,
            "host;x-amz-content-sha256;x-amz-date",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
    ],
)
def test_sign_headers_gives_the_signatures_aws_documents(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    payload: str,
    signed_headers: str,
    signature: str,
) -> None:
    sent = sign_headers(
        method=method,
        scheme="https",
        host="examplebucket.s3.amazonaws.com",
        encoded_path=path,
        query=query,
        headers=headers,
        payload_sha256=payload,
        credentials=AWS_CREDS,
        now=AWS_NOW,
    )
    assert sent["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    assert sent["host"] == "examplebucket.s3.amazonaws.com"
    assert sent["x-amz-date"] == "20130524T000000Z"
    assert sent["x-amz-content-sha256"] == payload
    assert {name: sent[name] for name in headers} == headers


header_names = st.sampled_from(
    ["Content-Type", "content-md5", "Range", "x-amz-meta-Note", "X-Amz-Storage-Class", "If-Match", "User-Agent"]
)
header_values = st.text(
    st.one_of(st.characters(min_codepoint=0x20, max_codepoint=0x7E), st.just("\t"), _unicode), max_size=30
)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]),
    secure=st.booleans(),
    host=hosts,
    port=ports,
    creds=st.builds(
        SigningCredentials,
        access_key=access_keys,
        secret_key=secret_keys,
        region=regions,
        session_token=session_tokens,
    ),
    key=object_names,
    query=st.lists(st.tuples(st.text(_unicode, min_size=1, max_size=10), st.text(_unicode, max_size=20)), max_size=4),
    headers=st.dictionaries(header_names, header_values, max_size=5),
    payload=st.one_of(
        st.just(UNSIGNED_PAYLOAD), st.binary(max_size=64).map(lambda body: hashlib.sha256(body).hexdigest())
    ),
    now=instants,
)
@example(
    method="PUT",
    secure=False,
    host="127.0.0.1",
    port=9000,
    creds=SigningCredentials("ak", "sk", REGION),
    key="a b",
    query=[("uploadId", "x/y"), ("partNumber", "3")],
    headers={"Content-Type": "  text/plain;   charset=utf-8  ", "User-Agent": "ignored   by signers"},
    payload=UNSIGNED_PAYLOAD,
    now=NOW,
)
def test_sign_headers_matches_minio_signer(
    method: str,
    secure: bool,
    host: str,
    port: int | None,
    creds: SigningCredentials,
    key: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    payload: str,
    now: datetime,
) -> None:
    endpoint = _endpoint(host, port)
    params: dict[str, list[str]] = {}
    for name, value in query:
        params.setdefault(name, []).append(value)
    client = _minio(endpoint, secure, creds.access_key, creds.secret_key, creds.region)
    url = client._base_url.build(
        method=method,
        region=creds.region,
        bucket_name="bkt",
        object_name=key,
        query_params=params,  # type: ignore[arg-type]  # DictType is invariant
    )
    sdk_headers: dict[str, str | list[str] | tuple[str]] = {
        **headers,
        "Host": url.netloc,
        "x-amz-content-sha256": payload,
        "x-amz-date": to_amz_date(now),
    }
    if creds.session_token:  # what minio-py's _build_headers adds for temporary credentials
        sdk_headers["X-Amz-Security-Token"] = creds.session_token
    theirs = sign_v4_s3(
        method=method,
        url=url,
        region=creds.region,
        headers=sdk_headers,
        credentials=Credentials(
            access_key=creds.access_key, secret_key=creds.secret_key, session_token=creds.session_token
        ),
        content_sha256=payload,
        date=now,
    )
    sent = sign_headers(
        method=method,
        scheme="https" if secure else "http",
        host=endpoint,
        encoded_path=url.path,
        query=query,
        headers=headers,
        payload_sha256=payload,
        credentials=creds,
        now=now,
    )
    assert sent["Authorization"] == theirs["Authorization"]
    assert sent["host"] == url.netloc
    assert sent["x-amz-date"] == to_amz_date(now)
    assert sent.get("X-Amz-Security-Token") == (creds.session_token or None)
    assert sorted(canonical_query(query).split("&")) == sorted(url.query.split("&"))  # same pairs as minio sends


def test_sign_headers_replaces_managed_headers_and_keeps_the_rest() -> None:
    sent = sign_headers(
        method="GET",
        scheme="http",
        host="127.0.0.1:9000",
        encoded_path="/b/k",
        query=[],
        headers={"Host": "evil", "AUTHORIZATION": "x", "X-Amz-Date": "y", "Range": "bytes=0-1", "User-Agent": "ua"},
        payload_sha256=UNSIGNED_PAYLOAD,
        credentials=SigningCredentials("ak", "sk", REGION),
        now=NOW,
    )
    assert set(sent) == {"host", "x-amz-date", "x-amz-content-sha256", "Authorization", "Range", "User-Agent"}
    assert sent["host"] == "127.0.0.1:9000"
    assert "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," in sent["Authorization"]


# ---------------------------------------------------------------------------------------------------------------------
# Against a real SigV4-checking server: the suite's server (SeaweedFS, or MinIO when MINIO_TEST_ENDPOINT is set)
# ---------------------------------------------------------------------------------------------------------------------

BUCKET = f"signing-{uuid.uuid4().hex[:12]}"  # a bucket of this module's own on the shared server
SERVER_KEYS = [
    "plain.txt",
    "with space.txt",
    "plus+sign.txt",
    "percent%20literal.txt",
    "hash#and?question=1&x.txt",
    "tilde~/nested/deep/ünïcödé-日本語.txt",
    "emoji 🎉 file.bin",
    "semi;colon,comma@at!bang$dollar'quote(paren)*star.txt",
    "long/" + "/".join(["é" * 100] * 5),  # 1009 bytes; SeaweedFS caps each path segment at 255 bytes
]


@pytest.fixture(scope="module")
def server(s3_server: S3Server, admin_client: Minio) -> Iterator[S3Server]:
    """The suite's server, with BUCKET holding an object for each of SERVER_KEYS."""
    admin_client.make_bucket(bucket_name=BUCKET)
    try:
        for key in SERVER_KEYS:
            put_bytes(admin_client, key, _body(key), bucket=BUCKET)
        yield s3_server
    finally:
        drop_bucket(admin_client, BUCKET)


@pytest.fixture(scope="module")
def http() -> urllib3.PoolManager:
    return urllib3.PoolManager(retries=False, timeout=30)


def _body(key: str) -> bytes:
    return f"contents of {key}\n".encode() * 3


def _signer(s3: S3Server, *, secret: str | None = None) -> PresignedURLSigner:
    creds = SigningCredentials(access_key=s3.access_key, secret_key=secret or s3.secret_key, region=REGION)
    return PresignedURLSigner(scheme="http", host=s3.endpoint, credentials=creds)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize("key", SERVER_KEYS)
def test_server_serves_presigned_get(server: S3Server, http: urllib3.PoolManager, key: str) -> None:
    url = _signer(server).presign_get(bucket=BUCKET, key=key, expires=600, now=_utcnow())
    response = http.request("GET", url)
    assert response.status == 200, response.data
    assert response.data == _body(key)


def test_server_honours_signed_response_overrides(server: S3Server, http: urllib3.PoolManager) -> None:
    query = {
        "response-content-disposition": 'attachment; filename="report 1.txt"',
        "response-content-type": "application/x-test",
    }
    url = _signer(server).presign_get(bucket=BUCKET, key="with space.txt", expires=600, now=_utcnow(), query=query)
    response = http.request("GET", url)
    assert response.status == 200, response.data
    assert response.headers["Content-Type"] == "application/x-test"
    assert response.headers["Content-Disposition"] == 'attachment; filename="report 1.txt"'


def _tamper_signature(url: str) -> str:
    last = url[-1]
    return url[:-1] + ("0" if last != "0" else "1")


def test_server_rejects_tampered_urls(server: S3Server, http: urllib3.PoolManager) -> None:
    signer = _signer(server)
    url = signer.presign_get(bucket=BUCKET, key="plain.txt", expires=600, now=_utcnow())
    assert http.request("GET", url).status == 200
    assert http.request("GET", _tamper_signature(url)).status == 403
    other_key = url.replace("/plain.txt?", "/plus+sign.txt?")  # valid signature, but for another object
    assert other_key != url
    assert http.request("GET", other_key).status == 403
    longer = url.replace("X-Amz-Expires=600", "X-Amz-Expires=6000")
    assert http.request("GET", longer).status == 403
    with_override = signer.presign_get(
        bucket=BUCKET, key="plain.txt", expires=600, now=_utcnow(), query={"response-content-type": "text/html"}
    )
    assert http.request("GET", with_override.replace("text%2Fhtml", "text%2Fplain")).status == 403


def test_server_rejects_expired_url(server: S3Server, http: urllib3.PoolManager) -> None:
    url = _signer(server).presign_get(bucket=BUCKET, key="plain.txt", expires=3600, now=_utcnow() - timedelta(days=8))
    assert http.request("GET", url).status == 403


def test_server_rejects_wrong_secret_on_presigned_url(server: S3Server, http: urllib3.PoolManager) -> None:
    url = _signer(server, secret="not-the-secret").presign_get(
        bucket=BUCKET, key="plain.txt", expires=600, now=_utcnow()
    )
    assert http.request("GET", url).status == 403


def _signed_request(
    s3: S3Server,
    http: urllib3.PoolManager,
    *,
    method: str,
    key: str | None,
    body: bytes = b"",
    payload_sha256: str | None = None,
    query: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    secret: str | None = None,
) -> urllib3.BaseHTTPResponse:
    path = f"/{BUCKET}" if key is None else f"/{BUCKET}/{quote_object_key(key)}"
    pairs = query or []
    sent = sign_headers(
        method=method,
        scheme="http",
        host=s3.endpoint,
        encoded_path=path,
        query=pairs,
        headers=headers or {},
        payload_sha256=payload_sha256 or hashlib.sha256(body).hexdigest(),
        credentials=SigningCredentials(access_key=s3.access_key, secret_key=secret or s3.secret_key, region=REGION),
        now=_utcnow(),
    )
    url = f"http://{s3.endpoint}{path}" + (f"?{canonical_query(pairs)}" if pairs else "")
    return http.request(method, url, body=body or None, headers=sent)


@pytest.mark.parametrize("payload", ["sha256", UNSIGNED_PAYLOAD])
@pytest.mark.parametrize("key", ["put/with space+plus%.txt", "put/ünï 🎉#?.bin"])
def test_server_accepts_header_signed_put(server: S3Server, http: urllib3.PoolManager, payload: str, key: str) -> None:
    body = f"uploaded {key} with {payload}".encode() * 10
    response = _signed_request(
        server,
        http,
        method="PUT",
        key=key,
        body=body,
        payload_sha256=None if payload == "sha256" else payload,
        headers={"Content-Type": "text/plain; charset=utf-8", "x-amz-meta-note": "signed header"},
    )
    assert response.status == 200, response.data
    fetched = http.request("GET", _signer(server).presign_get(bucket=BUCKET, key=key, expires=60, now=_utcnow()))
    assert fetched.status == 200
    assert fetched.data == body
    assert fetched.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_server_rejects_put_with_wrong_secret(server: S3Server, http: urllib3.PoolManager) -> None:
    response = _signed_request(server, http, method="PUT", key="put/denied.txt", body=b"nope", secret="wrong-secret")
    assert response.status == 403
    check = _signed_request(server, http, method="HEAD", key="put/denied.txt")
    assert check.status == 404


def test_server_serves_header_signed_ranged_get(server: S3Server, http: urllib3.PoolManager) -> None:
    key = "tilde~/nested/deep/ünïcödé-日本語.txt"
    response = _signed_request(server, http, method="GET", key=key, headers={"Range": "bytes=3-12"})
    assert response.status == 206, response.data
    assert response.data == _body(key)[3:13]


def test_server_accepts_signed_query_params(server: S3Server, http: urllib3.PoolManager) -> None:
    """ListObjectsV2 with an awkward prefix exercises the canonical query string."""
    response = _signed_request(
        server, http, method="GET", key=None, query=[("prefix", "tilde~/nested/deep/ü"), ("list-type", "2")]
    )
    assert response.status == 200, response.data
    assert "tilde~/nested/deep/ünïcödé-日本語.txt" in response.data.decode()
    assert "plain.txt" not in response.data.decode()
