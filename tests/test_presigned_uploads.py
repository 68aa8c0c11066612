"""Write URLs and POST policies: `url(name, http_method=...)` and `presigned_post(...)` against the real server, and
the policy document and signature byte for byte against minio-py's `presigned_post_policy`."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, urlsplit

import pytest
import urllib3
from django.core.exceptions import SuspiciousFileOperation
from hypothesis import given, settings
from hypothesis import strategies as st
from minio import Minio
from minio.datatypes import PostPolicy as MinioPostPolicy
from minio.helpers import check_object_name

from cache_backends.lru import LRUCache
from django_minio_backend import MinioBackend
from django_minio_backend.signing import SigningCredentials
from django_minio_backend.upload_signing import post_policy, presign_url
from django_minio_backend.urlcache import shared_cache
from tests.helpers import cache_prefix, post_form, private_storage, put_bytes, stored_bytes
from tests.settings import PRIVATE_BUCKET, PUBLIC_BUCKET

POOL = urllib3.PoolManager(retries=False)
Response = urllib3.BaseHTTPResponse
CREDENTIALS = SigningCredentials(
    access_key="AKIDEXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region="us-east-1"
)


def send(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
    return POOL.request(method, url, body=body, headers=headers or {})


def code_of(response: urllib3.BaseHTTPResponse) -> str:
    text = response.data.decode(errors="replace")
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""


# -- url(http_method=...) ------------------------------------------------------------------------------------------
def test_a_put_url_uploads_exactly_its_key(media: MinioBackend, admin_client: Minio, unique: str) -> None:
    url = media.url(f"{unique}/up load.txt", http_method="PUT")
    assert send("PUT", url, b"put from a browser").status == 200
    assert stored_bytes(admin_client, f"{unique}/up load.txt") == b"put from a browser"
    other = url.replace("up%20load.txt", "other.txt")
    assert send("PUT", other, b"x").status == 403  # the key is part of the signature


def test_a_put_url_binds_the_content_type(media: MinioBackend, admin_client: Minio, unique: str) -> None:
    url = media.url(f"{unique}/a.png", parameters={"Content-Type": "image/png"}, http_method="PUT")
    assert "content-type%3Bhost" in url  # X-Amz-SignedHeaders=content-type;host
    refused = send("PUT", url, b"text", {"Content-Type": "text/plain"})
    assert (refused.status, code_of(refused)) == (403, "SignatureDoesNotMatch")
    assert send("PUT", url, b"\x89PNG", {"Content-Type": "image/png"}).status == 200
    assert (
        admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=f"{unique}/a.png").content_type == "image/png"
    )


def test_a_put_url_can_be_create_only(media: MinioBackend, admin_client: Minio, unique: str) -> None:
    url = media.url(f"{unique}/once.txt", parameters={"If-None-Match": "*"}, http_method="PUT")
    assert send("PUT", url, b"first", {"If-None-Match": "*"}).status == 200
    refused = send("PUT", url, b"second", {"If-None-Match": "*"})
    assert (refused.status, code_of(refused)) == (412, "PreconditionFailed")
    assert send("PUT", url, b"third").status == 403  # the header is part of the signature
    assert stored_bytes(admin_client, f"{unique}/once.txt") == b"first"


def test_put_urls_are_never_cached(live_settings: dict[str, Any], unique: str) -> None:
    storage = private_storage(
        MINIO_URL_CACHING_ENABLED=True, MINIO_URL_CACHE_BACKEND="lru", MINIO_URL_CACHE_PREFIX=cache_prefix()
    )
    cache = shared_cache(storage.settings).cache
    assert isinstance(cache, LRUCache)
    first = storage.url(f"{unique}/p.txt", http_method="PUT", expire=60)
    second = storage.url(f"{unique}/p.txt", http_method="PUT", expire=120)
    assert len(cache) == 0 and first != second
    storage.url(f"{unique}/p.txt")  # a GET is cached as before (the object is missing: an index entry)
    assert len(cache) == 1


def test_a_head_url_answers_a_head(
    media: MinioBackend, public_media: MinioBackend, admin_client: Minio, unique: str
) -> None:
    put_bytes(admin_client, f"{unique}/h.txt", b"12345")
    url = media.url(f"{unique}/h.txt", http_method="HEAD")
    response = send("HEAD", url)
    assert (response.status, response.headers["Content-Length"]) == (200, "5")
    assert send("GET", url).status == 403  # signed for HEAD only
    assert media.url(f"{unique}/h.txt", http_method="GET") == media.url(f"{unique}/h.txt")
    put_bytes(admin_client, f"{unique}/h.txt", b"123", bucket=PUBLIC_BUCKET)
    plain = public_media.url(f"{unique}/h.txt", http_method="HEAD")
    assert "X-Amz-Signature" not in plain and send("HEAD", plain).headers["Content-Length"] == "3"


@pytest.mark.parametrize("method", ["POST", "DELETE", "get", "", "PATCH"])
def test_other_methods_are_refused(media: MinioBackend, method: str) -> None:
    with pytest.raises(ValueError, match="http_method must be"):
        media.url("a.txt", http_method=method)


def test_a_put_url_refuses_a_bad_name_and_a_bad_header(media: MinioBackend) -> None:
    with pytest.raises(SuspiciousFileOperation):
        media.url("../a.txt", http_method="PUT")
    with pytest.raises(SuspiciousFileOperation):
        media.url("a\\b.txt", http_method="PUT")
    with pytest.raises(ValueError, match="cannot be signed"):
        media.url("a.txt", parameters={"Bad Header": "x"}, http_method="PUT")


# -- presigned_post() -----------------------------------------------------------------------------------------------
def test_a_post_policy_stores_the_file(media: MinioBackend, admin_client: Minio, unique: str) -> None:
    post = media.presigned_post(f"{unique}/form.txt", max_size=100, content_type="text/plain")
    assert post.url.endswith(f"/{PRIVATE_BUCKET}")
    assert {"key", "Content-Type", "policy", "x-amz-signature"} <= set(post.fields)
    assert post_form(post.url, post.fields, b"from a form").status == 204
    assert stored_bytes(admin_client, f"{unique}/form.txt") == b"from a form"
    stat = admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=f"{unique}/form.txt")
    assert stat.content_type == "text/plain"


def test_a_post_policy_refuses_an_oversize_file(media: MinioBackend, admin_client: Minio, unique: str) -> None:
    post = media.presigned_post(f"{unique}/big.bin", max_size=10)
    refused = post_form(post.url, post.fields, b"x" * 11)
    assert (refused.status, code_of(refused)) == (400, "EntityTooLarge")
    assert post_form(post.url, post.fields, b"x" * 10).status == 204
    empty = post_form(post.url, post.fields, b"")
    assert empty.status == 400  # content-length-range starts at 1 byte


def test_a_post_policy_refuses_another_key(media: MinioBackend, admin_client: Minio, unique: str) -> None:
    post = media.presigned_post(f"{unique}/mine.txt", max_size=100)
    refused = post_form(post.url, {**post.fields, "key": f"{unique}/theirs.txt"}, b"x")
    assert refused.status == 403 and "Policy Condition failed" in refused.data.decode()
    assert not [o for o in admin_client.list_objects(bucket_name=PRIVATE_BUCKET, prefix=f"{unique}/")]


def test_a_post_policy_refuses_another_type(media: MinioBackend, unique: str) -> None:
    exact = media.presigned_post(f"{unique}/t.png", max_size=100, content_type="image/png")
    assert post_form(exact.url, {**exact.fields, "Content-Type": "text/html"}, b"<p>").status == 403
    prefix = media.presigned_post(f"{unique}/p.png", max_size=100, content_type="image/")
    assert "Content-Type" not in prefix.fields  # the form sends the file's own type
    assert post_form(prefix.url, prefix.fields, b"<p>", content_type="text/html").status == 403
    assert post_form(prefix.url, prefix.fields, b"\x89PNG", content_type="image/png").status == 204


def test_a_post_policy_expires(media: MinioBackend, unique: str) -> None:
    post = media.presigned_post(f"{unique}/e.txt", max_size=100, expire=timedelta(seconds=1))
    document = json.loads(base64.b64decode(post.fields["policy"]))
    expiration = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert timedelta(0) < expiration - datetime.now(tz=UTC) <= timedelta(seconds=1)
    with pytest.raises(ValueError, match="between 1 second and 7 days"):
        media.presigned_post(f"{unique}/e.txt", max_size=100, expire=timedelta(days=8))


@pytest.mark.parametrize("bad", [{"max_size": 0}, {"max_size": 10, "content_type": "png"}, {"max_size": True}])
def test_presigned_post_refuses_bad_arguments(media: MinioBackend, bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        media.presigned_post("a.txt", **bad)


# -- byte for byte against minio-py -------------------------------------------------------------------------------
class _Frozen(datetime):
    """minio-py's PostPolicy reads datetime.utcnow(): this one answers the moment under test."""

    moment = datetime(2024, 1, 1)

    @classmethod
    def utcnow(cls) -> datetime:  # type: ignore[override]
        return cls.moment


def _minio_accepts(key: str) -> bool:
    try:
        check_object_name(key)
    except ValueError:
        return False
    return True


_keys = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=60).filter(_minio_accepts)
_types = st.one_of(st.none(), st.sampled_from(["image/png", "text/plain; charset=utf-8", "image/", "application/"]))


@settings(max_examples=150, deadline=None)
@given(
    key=_keys,
    max_size=st.integers(min_value=1, max_value=5 * 1024**4),
    content_type=_types,
    expires=st.integers(min_value=1, max_value=7 * 24 * 3600),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
    region=st.sampled_from(["us-east-1", "eu-west-3"]),
    token=st.sampled_from([None, "FwoGZXIvYXdzEBY//session+token="]),
)
def test_post_policy_equals_minio_py(
    key: str, max_size: int, content_type: str | None, expires: int, now: datetime, region: str, token: str | None
) -> None:
    credentials = SigningCredentials(CREDENTIALS.access_key, CREDENTIALS.secret_key, region, token)
    ours = post_policy(
        scheme="http",
        host="minio:9000",
        bucket="media",
        key=key,
        credentials=credentials,
        max_size=max_size,
        content_type=content_type,
        expires=expires,
        now=now.replace(tzinfo=UTC),
    )
    policy = MinioPostPolicy("media", now.replace(tzinfo=UTC) + timedelta(seconds=expires))
    policy.add_equals_condition("key", key)
    if content_type is not None and content_type.endswith("/"):
        policy.add_starts_with_condition("Content-Type", content_type)
    elif content_type is not None:
        policy.add_equals_condition("Content-Type", content_type)
    policy.add_content_length_range_condition(1, max_size)
    client = Minio(
        "minio:9000",
        access_key=credentials.access_key,
        secret_key=credentials.secret_key,
        session_token=token,
        region=region,
    )
    with mock.patch("minio.datatypes.datetime", _Frozen):
        _Frozen.moment = now
        theirs = client.presigned_post_policy(policy)
    assert base64.b64decode(ours.fields["policy"]) == base64.b64decode(theirs["policy"])
    assert {name: ours.fields[name] for name in theirs} == theirs  # the signature and every signing field
    assert ours.url == "http://minio:9000/media"


@settings(max_examples=100, deadline=None)
@given(
    key=_keys,
    method=st.sampled_from(["PUT", "HEAD"]),
    expires=st.integers(min_value=1, max_value=7 * 24 * 3600),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
    token=st.sampled_from([None, "FwoGZXIvYXdzEBY//session+token="]),
)
def test_presigned_put_and_head_equal_minio_py(
    key: str, method: str, expires: int, now: datetime, token: str | None
) -> None:
    ours = presign_url(
        method=method,
        scheme="http",
        host="minio:9000",
        bucket="media",
        key=key,
        credentials=CREDENTIALS,
        expires=expires,
        now=now.replace(tzinfo=UTC),
    )
    client = Minio(
        "minio:9000", access_key=CREDENTIALS.access_key, secret_key=CREDENTIALS.secret_key, region="us-east-1"
    )
    theirs = client.get_presigned_url(
        method, "media", key, expires=timedelta(seconds=expires), request_date=now.replace(tzinfo=UTC)
    )
    assert urlsplit(ours).path == urlsplit(theirs).path
    assert dict(parse_qsl(urlsplit(ours).query)) == dict(parse_qsl(urlsplit(theirs).query))
