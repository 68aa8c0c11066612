"""MINIO_CREDENTIALS_PROVIDER against the real server: rotation, failures, sharing per process, STS end to end.

Requests are recorded by a pool that keeps each request's identity (MINIO_HTTP_CLIENT), so the tests see which
credentials signed what, for our own requests and the SDK client's alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3
from django.core.files.base import ContentFile
from minio.credentials.credentials import Credentials
from minio.credentials.providers import AssumeRoleProvider, Provider

from django_minio_backend import MinioBackend, credentials
from django_minio_backend.credentials import CredentialsError
from tests import credentials as test_credentials
from tests.counting import CountingPoolManager
from tests.credentials import FailingProvider, RotatingProvider, TokenProvider, server_keys
from tests.helpers import fetch, fork_children, http_status, post_form, private_storage, query, valid_until
from tests.servers import PROVIDER_IDENTITIES, S3Server

NO_KEYS: dict[str, Any] = {"MINIO_ACCESS_KEY": None, "MINIO_SECRET_KEY": None}
UPLOADS = urllib3.PoolManager(retries=False)  # a browser's requests to write URLs


@pytest.fixture(autouse=True)
def fresh_leases() -> None:
    """Each test starts as a fresh process would: no provider has been asked yet."""
    credentials._leases.clear()


class IdentityPool(CountingPoolManager):
    """Records the access key that signed each request (from its Authorization header)."""

    def __init__(self) -> None:
        super().__init__()
        self.signers: list[str] = []

    def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any) -> urllib3.BaseHTTPResponse:  # type: ignore[override]
        headers = kw.get("headers") or {}
        authorization = str(headers.get("Authorization") or headers.get("authorization") or "")
        with self._lock:
            self.signers.append(authorization.partition("Credential=")[2].partition("/")[0] or "unsigned")
        return super().urlopen(method, url, redirect=redirect, **kw)


def url_signer(url: str) -> str:
    return query(url)["X-Amz-Credential"].partition("/")[0]


def provider_storage(provider: Provider | str, **options: Any) -> MinioBackend:
    return private_storage(**NO_KEYS, MINIO_CREDENTIALS_PROVIDER=provider, **options)


@pytest.fixture
def seaweed(s3_server: S3Server) -> S3Server:
    if not s3_server.is_seaweed:
        pytest.skip("needs SeaweedFS's identities for providers (s3.json) and its STS")
    return s3_server


@pytest.fixture
def retiring(seaweed: S3Server) -> Iterator[S3Server]:
    """The server, with the provider identities' secrets put back after the test retired one."""
    try:
        yield seaweed
    finally:
        for access_key, secret_key in PROVIDER_IDENTITIES.items():
            if seaweed.identities[access_key] != secret_key:
                seaweed.set_secret(access_key, secret_key)


# -- rotation ----------------------------------------------------------------------------------------------------


def test_requests_and_urls_follow_a_rotation_and_never_use_the_retired_key(
    retiring: S3Server, live_settings: dict[str, Any], unique: str
) -> None:
    """The provider hands out identity A for 6 s (renewed after 3 s), then B. Everything keeps working across the
    switch, nothing is signed with A once B is in use, and a URL signed with A dies with A's credentials."""
    (key_a, secret_a), (key_b, secret_b) = sorted(PROVIDER_IDENTITIES.items())
    provider = RotatingProvider([(key_a, secret_a), (key_b, secret_b)], life=6.0)
    pool = IdentityPool()
    storage = provider_storage(provider, MINIO_HTTP_CLIENT=pool)
    name = storage.save(f"{unique}/rotating.txt", ContentFile(b"rotating"))
    used: list[str] = []  # the identity of every request and URL, in order
    last_url_of_a = ""
    ends_at = time.monotonic() + 20
    while time.monotonic() < ends_at and not (len(provider.handed_out) >= 2 and used.count(key_b) >= 20):
        assert storage.exists(name)  # the SDK client
        with storage.open(name) as handle:  # our own signed GET
            assert handle.read() == b"rotating"
        url = storage.url(name)
        assert fetch(url) == b"rotating"
        used.extend(pool.signers)
        pool.signers.clear()
        used.append(url_signer(url))
        if url_signer(url) == key_a:
            last_url_of_a = url
            assert valid_until(url) <= provider.handed_out[0][1]  # never outlives A's credentials
        time.sleep(0.05)
    assert [key for key, _ in provider.handed_out[:2]] == [key_a, key_b]
    assert set(used) == {key_a, key_b}
    switched = used.index(key_b)
    assert key_a not in used[switched:]  # nothing is signed with the retired key once the new one is in use

    retiring.set_secret(key_a, f"retired-{uuid.uuid4().hex}")  # the STS retires A
    assert http_status(last_url_of_a) == 403  # the server no longer accepts A
    assert storage.exists(name)
    assert fetch(storage.url(name)) == b"rotating"
    assert storage.save(f"{unique}/after.txt", ContentFile(b"after")) == f"{unique}/after.txt"
    assert set(pool.signers) == {key_b}


# -- failures ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["tests.credentials.failing_provider", "instance"])
def test_a_failing_provider_fails_the_operation_and_sends_nothing(
    live_settings: dict[str, Any], counting_pool: CountingPoolManager, unique: str, given: str
) -> None:
    provider: Provider | str = FailingProvider() if given == "instance" else given
    storage = provider_storage(provider, MINIO_HTTP_CLIENT=counting_pool)
    label = "tests.credentials.FailingProvider" if given == "instance" else given
    operations: list[Callable[[], object]] = [
        lambda: storage.url("some/file.txt"),
        lambda: storage.url_many(["a.txt", "b.txt"]),
        lambda: storage.exists("some/file.txt"),
        lambda: storage.save(f"{unique}/never.txt", ContentFile(b"x")),
        lambda: storage.open("some/file.txt"),
        lambda: storage.listdir(""),
    ]
    for operation in operations:
        with pytest.raises(CredentialsError, match="MINIO_CREDENTIALS_PROVIDER") as info:
            operation()
        assert label in str(info.value) and "connection refused" in str(info.value)
    assert counting_pool.requests == []  # never an unsigned or anonymous request


def test_a_failed_renewal_keeps_the_credentials_that_still_work(
    live_settings: dict[str, Any], caplog: pytest.LogCaptureFixture, unique: str
) -> None:
    class FlakyProvider(Provider):
        """Good credentials for 3 s, then an STS that is down."""

        def __init__(self) -> None:
            self.calls = 0

        def retrieve(self) -> Any:
            self.calls += 1
            if self.calls > 1:
                raise ConnectionError("sts down")
            access_key, secret_key = server_keys()
            return TokenProvider(access_key, secret_key, token="", life=3.0).retrieve()

    provider = FlakyProvider()
    storage = provider_storage(provider)
    name = storage.save(f"{unique}/flaky.txt", ContentFile(b"f"))
    caplog.set_level(logging.WARNING, logger="django_minio_backend.credentials")
    time.sleep(1.6)  # past the renewal point (half of the life), before the credentials expire
    assert storage.exists(name)  # the renewal failed; the current credentials still sign
    assert provider.calls == 2 and "Renewing credentials" in caplog.text and "sts down" in caplog.text
    time.sleep(1.6)  # now they expired: the provider's failure is the answer
    with pytest.raises(CredentialsError, match="sts down"):
        storage.exists(name)


# -- fetched lazily, once per process, renewed once -------------------------------------------------------------


def test_credentials_are_fetched_on_first_use_once_per_process(live_settings: dict[str, Any], unique: str) -> None:
    provider = "tests.credentials.server_provider"
    pid = os.getpid()
    test_credentials.calls.pop(pid, None)
    first = provider_storage(provider, MINIO_URL_STABLE_WINDOW=60)
    second = provider_storage(provider, MINIO_URL_STABLE_WINDOW=120)  # another alias's settings, same provider
    assert first.settings.credentials_provider == provider
    assert test_credentials.calls.get(pid, 0) == 0  # building storages and parsing settings fetch nothing
    name = first.save(f"{unique}/once.txt", ContentFile(b"o"))
    assert first.exists(name) and second.exists(name)
    assert fetch(first.url(name)) == fetch(second.url(name)) == b"o"
    assert test_credentials.calls[pid] == 1  # one provider for the process: storages, SDK clients and URLs


def test_a_renewal_asks_the_provider_once_whatever_the_threads(live_settings: dict[str, Any], unique: str) -> None:
    class SlowProvider(TokenProvider):
        """Credentials valid for 4 s, handed out after 0.2 s: threads meet at every renewal."""

        def __init__(self) -> None:
            access_key, secret_key = server_keys()
            super().__init__(access_key, secret_key, token="", life=4.0)
            self.calls = 0

        def retrieve(self) -> Any:
            self.calls += 1
            time.sleep(0.2)
            return super().retrieve()

    provider = SlowProvider()
    storage = provider_storage(provider)
    name = storage.save(f"{unique}/threads.txt", ContentFile(b"t"))
    assert provider.calls == 1
    urls: list[str] = []
    errors: list[BaseException] = []
    ends_at = time.monotonic() + 2.6  # past the renewal point (2 s), before the second one (4 s)

    def work() -> None:
        try:
            while time.monotonic() < ends_at:
                urls.append(storage.url(name))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert provider.calls == 2  # the first fetch and one renewal, not one per thread
    assert len(urls) > 100 and fetch(urls[-1]) == b"t"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_fetches_its_own_credentials(live_settings: dict[str, Any], unique: str) -> None:
    storage = provider_storage("tests.credentials.server_provider", MINIO_URL_STABLE_WINDOW=3600)
    name = storage.save(f"{unique}/fork.txt", ContentFile(b"forked"))
    parent_url = storage.url(name)

    def child(_: int) -> str:
        before = test_credentials.calls.get(os.getpid(), 0)
        child_url = storage.url(name)
        ok = storage.exists(name) and fetch(child_url) == b"forked"
        return f"{before} {test_credentials.calls.get(os.getpid(), 0)} {ok} {child_url == parent_url}"

    report = fork_children(child, 1)[0].text
    assert report == "0 1 True True"  # built its own provider, fetched once; same credentials give the same URL


# -- session tokens, end to end ----------------------------------------------------------------------------------


def test_assume_role_credentials_from_seaweedfs_sts(
    seaweed: S3Server, live_settings: dict[str, Any], caplog: pytest.LogCaptureFixture, unique: str
) -> None:
    """SeaweedFS's STS (POST / Action=AssumeRole, signed by a static identity) hands out an access key, a secret and
    a session token valid for an hour: requests and URLs carry the token, and URLs die with the session."""
    access_key, secret_key = server_keys()
    provider = AssumeRoleProvider(
        sts_endpoint=f"http://{seaweed.endpoint}",
        access_key=access_key,
        secret_key=secret_key,
        role_session_name="django-minio-backend-tests",
    )
    pool = IdentityPool()
    caplog.set_level(logging.INFO, logger="django_minio_backend.presign")
    storage = provider_storage(provider, MINIO_HTTP_CLIENT=pool, MINIO_URL_EXPIRY_HOURS=timedelta(hours=12))
    name = storage.save(f"{unique}/sts ü.txt", ContentFile(b"temporary"))
    with storage.open(name) as handle:
        assert handle.read() == b"temporary"
    assert storage.exists(name) and storage.size(name) == 9
    session = provider.retrieve()
    assert session.session_token and session.expiration is not None
    assert set(pool.signers) == {session.access_key}  # every request signed by the session, SDK ones included
    url = storage.url(name)
    assert url_signer(url) == session.access_key and query(url)["X-Amz-Security-Token"] == session.session_token
    assert fetch(url) == b"temporary"
    expires_at = session.expiration.replace(tzinfo=UTC).timestamp()
    assert valid_until(url) == int(expires_at)  # 12 hours asked, cut to the session's hour
    assert caplog.text.count("live at most until their credentials") == 1
    assert storage.url(name) == url  # the same URL for the rest of the window
    assert http_status(url.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x")) == 403


@pytest.fixture
def sts(seaweed: S3Server) -> AssumeRoleProvider:
    """A provider of session credentials from SeaweedFS's STS (AssumeRole, signed by the main static identity)."""
    access_key, secret_key = server_keys()
    return AssumeRoleProvider(
        sts_endpoint=f"http://{seaweed.endpoint}",
        access_key=access_key,
        secret_key=secret_key,
        role_session_name="django-minio-backend-uploads",
    )


def session_of(provider: Provider) -> tuple[Credentials, float]:
    """The provider's current session and when it expires (Unix seconds)."""
    session = provider.retrieve()
    assert session.session_token and session.expiration is not None
    return session, session.expiration.replace(tzinfo=UTC).timestamp()


def test_a_presigned_put_signed_by_an_sts_session_is_accepted_and_lives_no_longer(
    sts: AssumeRoleProvider, live_settings: dict[str, Any], unique: str
) -> None:
    storage = provider_storage(sts, MINIO_KEY_PREFIX=unique)
    session, expires_at = session_of(sts)
    url = storage.url("put.txt", http_method="PUT", expire=timedelta(hours=12))
    assert url_signer(url) == session.access_key and query(url)["X-Amz-Security-Token"] == session.session_token
    assert expires_at - 5 <= valid_until(url) <= expires_at  # 12 hours asked, cut to the session's hour
    assert UPLOADS.request("PUT", url, body=b"put with a session").status == 200
    with storage.open("put.txt") as handle:
        assert handle.read() == b"put with a session"


class SessionPostRefused(AssertionError):
    """The server refused a POST policy because it does not know a session's access key."""


@pytest.mark.xfail(
    raises=SessionPostRefused,
    strict=True,
    reason="SeaweedFS (4.48) checks POST policies against its static identities only, not STS sessions",
)
def test_a_post_policy_signed_by_an_sts_session_is_accepted_and_lives_no_longer(
    sts: AssumeRoleProvider, live_settings: dict[str, Any], unique: str
) -> None:
    storage = provider_storage(sts, MINIO_KEY_PREFIX=unique)
    session, expires_at = session_of(sts)
    post = storage.presigned_post("posted.txt", max_size=100, expire=timedelta(hours=12))
    assert post.fields["x-amz-security-token"] == session.session_token
    policy = json.loads(base64.b64decode(post.fields["policy"]))
    assert ["eq", "$x-amz-security-token", session.session_token] in policy["conditions"]
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert expires_at - 5 <= expiration.timestamp() <= expires_at  # cut to the session's hour
    access_key, date, region, service, _ = post.fields["x-amz-credential"].split("/")
    assert access_key == session.access_key
    key = f"AWS4{session.secret_key}".encode()
    for part in (date, region, service, "aws4_request"):  # SigV4's signing key, then the policy's signature
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert post.fields["x-amz-signature"] == hmac.new(key, post.fields["policy"].encode(), hashlib.sha256).hexdigest()
    answer = post_form(post.url, post.fields, b"posted with a session")
    if answer.status == 403 and b"<Code>InvalidAccessKeyId</Code>" in answer.data:
        raise SessionPostRefused(answer.data.decode(errors="replace"))
    assert answer.status == 204, answer.data
    with storage.open("posted.txt") as handle:
        assert handle.read() == b"posted with a session"
