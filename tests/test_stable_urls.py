"""Stable presigned URLs (MINIO_URL_STABLE_WINDOW): one URL per object for a whole window, in every process.

The signing time is the start of the epoch-aligned window, so a URL handed out at the last second of a window was
signed almost a window ago: the real server must accept it, and refuse it once tampered with. URL builders run on an
injected clock where the test needs a moment other than now.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minio import Minio

from django_minio_backend import MinioBackend
from django_minio_backend.alias_settings import parse_options as parse
from django_minio_backend.presign import URLBuilder
from django_minio_backend.settings import MAX_EXPIRY
from django_minio_backend.signing import MAX_PRESIGN_EXPIRES, window_start
from tests.helpers import (
    BASE,
    fetch,
    http_status,
    other_spelling,
    private_storage,
    put_bytes,
    query,
    signed_at,
    valid_until,
)
from tests.servers import S3Server
from tests.settings import PRIVATE_BUCKET

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400


def at(moment: float) -> Callable[[], float]:
    """A clock standing still at `moment` (Unix seconds)."""
    return lambda: moment


def builder(storage: MinioBackend, clock: Callable[[], float]) -> URLBuilder:
    return URLBuilder(storage.settings, storage.bucket, clock=clock)


# -- the rule ----------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    expiry=st.integers(1, MAX_PRESIGN_EXPIRES),
    share=st.floats(0, 1, exclude_max=True),
    now=st.floats(0, 4e9),
    per_call=st.one_of(st.none(), st.integers(1, MAX_PRESIGN_EXPIRES)),
)
def test_signed_in_the_past_valid_for_the_expiry_with_all_but_a_window_left(
    expiry: int, share: float, now: float, per_call: int | None
) -> None:
    window = int(expiry * share)
    options = {
        **BASE,
        "MINIO_URL_EXPIRY_HOURS": timedelta(seconds=expiry),
        "MINIO_URL_STABLE_WINDOW": window,
        "MINIO_URL_CACHE_TIMEOUT": 1,  # its default, 80 % of the expiry, is 0 for a 1-second expiry
    }
    urls = URLBuilder(parse("default", options), "media", clock=at(now))
    url = urls.url("a.txt", expire=per_call)
    seconds = per_call or expiry
    own_window = window * seconds // expiry  # a per-call expiry has a window of the same share of it
    assert int(query(url)["X-Amz-Expires"]) == seconds <= MAX_PRESIGN_EXPIRES  # never more than 7 days
    assert signed_at(url) == window_start(int(now), own_window)
    assert int(now) - max(own_window, 1) < signed_at(url) <= now  # never in the future
    assert valid_until(url) - now > seconds - max(own_window, 1)  # at least expiry - window left (whole seconds)


def test_one_url_for_the_whole_window(live_settings: dict[str, Any]) -> None:
    storage = private_storage()
    window = storage.settings.url_window_seconds
    assert window == storage.settings.url_expiry_seconds // 5  # the default: a fifth of the expiry
    start = int(time.time()) // window * window
    first = builder(storage, at(start)).url("photo.jpg")
    for moment in (start + 1, start + window / 2, start + window - 0.5):
        assert builder(storage, at(moment)).url("photo.jpg") == first
    assert builder(storage, at(start - 1)).url("photo.jpg") != first  # the window before
    following = builder(storage, at(start + window)).url("photo.jpg")
    assert signed_at(following) == start + window
    off = private_storage(MINIO_URL_STABLE_WINDOW=0)
    assert signed_at(builder(off, at(start + 17.9)).url("photo.jpg")) == start + 17  # off: the current second


# -- the real server ---------------------------------------------------------------------------------------------


def test_urls_made_at_the_end_of_a_window_are_accepted_and_tampered_ones_refused(
    live_settings: dict[str, Any], admin_client: Minio, s3_server: S3Server, unique: str
) -> None:
    name = f"{unique}/end of window ü.txt"
    put_bytes(admin_client, name, b"old window")
    options = {"MINIO_URL_EXPIRY_HOURS": MAX_EXPIRY, "MINIO_URL_STABLE_WINDOW": DAY}
    storage = private_storage(**options)
    now = int(time.time())
    end = now - now % DAY - 1  # the last second of the previous day-long window: signed almost two days ago
    urls = builder(storage, at(end))
    url = urls.url(name)
    assert signed_at(url) == end - DAY + 1
    assert fetch(url) == b"old window"
    per_call = urls.url(name, parameters={"response-content-type": "text/x-test"}, expire=timedelta(days=2))
    assert signed_at(per_call) == window_start(end, DAY * 2 // 7) and fetch(per_call) == b"old window"
    assert urls.url_many([name]) == {name: url}
    external = private_storage(**options, MINIO_EXTERNAL_ENDPOINT=other_spelling(s3_server.endpoint))
    through_external = builder(external, at(end)).url(name)
    assert urlsplit(through_external).netloc == other_spelling(s3_server.endpoint)
    assert fetch(through_external) == b"old window"

    fresher = url.replace(query(url)["X-Amz-Date"], datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ"))
    longer = url.replace("X-Amz-Expires=604800", "X-Amz-Expires=604801")
    shorter = url.replace("X-Amz-Expires=604800", "X-Amz-Expires=604799")
    signature = query(url)["X-Amz-Signature"]
    forged = url.replace(signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    for tampered in (fresher, longer, shorter, forged, url.replace("end%20of", "end-of")):
        assert tampered != url
        assert http_status(tampered) in (400, 403), tampered  # 400: an expiry over 7 days


SCRIPT = """
import json, sys
from datetime import timedelta
import django
from django.conf import settings

config = json.loads(sys.argv[1])
options = {**config["options"], "MINIO_URL_EXPIRY_HOURS": timedelta(seconds=config["expiry"])}
settings.configure(
    USE_TZ=True,
    STORAGES={"default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": options}},
)
django.setup()
from django_minio_backend import MinioBackend

storage = MinioBackend(bucket_name=config["bucket"])
names = config["names"]
print(json.dumps([
    storage.url(names[0]),
    storage.url(names[0], parameters={"response-content-disposition": "attachment"}, expire=config["per_call"]),
    storage.url_many(names),
]))
"""


PER_CALL_EXPIRY = 600  # seconds: the second URL's own expiry, and so its shorter window


def urls_of_a_fresh_process(config: dict[str, Any]) -> list[Any]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(config)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    answer: list[Any] = json.loads(done.stdout)
    return answer


def test_two_fresh_processes_produce_the_same_urls(
    live_settings: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    names = [f"{unique}/shared {index}.jpg" for index in range(3)]
    for name in names:
        put_bytes(admin_client, name, name.encode())
    storage = private_storage()
    options = {
        key: value for key, value in live_settings["default"]["OPTIONS"].items() if key != "MINIO_URL_EXPIRY_HOURS"
    }
    config = {
        "options": options,
        "expiry": storage.settings.url_expiry_seconds,
        "bucket": PRIVATE_BUCKET,
        "names": names,
        "per_call": PER_CALL_EXPIRY,
    }
    # the shortest window among the URLs: the per-call expiry of 600 s has the same share of it as the default
    window = max(1, storage.settings.url_window_seconds * PER_CALL_EXPIRY // storage.settings.url_expiry_seconds)
    for _ in range(3):  # a window may end between the two processes (rarely): then both run again
        started = time.time() // window
        first, second = urls_of_a_fresh_process(config), urls_of_a_fresh_process(config)
        if time.time() // window == started:
            break
    assert first == second
    mine = MinioBackend(bucket_name=PRIVATE_BUCKET)  # and this process, a third one, agrees
    assert first[0] == mine.url(names[0]) and first[2] == mine.url_many(names)
    assert [fetch(url) for url in first[2].values()] == [name.encode() for name in names]
    assert fetch(first[1]) == names[0].encode()


# -- with temporary credentials ----------------------------------------------------------------------------------


@pytest.mark.parametrize("window", [None, 0])
def test_session_token_urls_stay_stable_and_die_with_their_credentials(
    live_settings: dict[str, Any], window: int | None
) -> None:
    """A provider whose credentials have an hour to live, URLs asked for two hours: each URL ends when they do, and
    within a window (and the same credentials) the URL stays the same."""
    storage = private_storage(
        MINIO_ACCESS_KEY=None,
        MINIO_SECRET_KEY=None,
        MINIO_CREDENTIALS_PROVIDER="tests.credentials.session_provider",
        MINIO_URL_STABLE_WINDOW=window,
    )
    url = storage.url("token.txt")
    expires_at = time.time() + 3600  # session_provider's credentials, fetched just now
    assert query(url)["X-Amz-Security-Token"] == "FQoGZXIvYXdzEXAMPLE//token+with/slashes=="
    assert int(query(url)["X-Amz-Expires"]) < storage.settings.url_expiry_seconds
    assert expires_at - 5 <= valid_until(url) <= expires_at
    if window is None:
        assert storage.url("token.txt") == url
        assert signed_at(url) == window_start(int(time.time()), storage.settings.url_window_seconds)
