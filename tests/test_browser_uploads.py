"""The example page in a real browser (Debian's headless Chromium through Playwright) against the real server:
files go from the browser to the bucket, never through Django.

Marked `browser`: `make test` runs them on the main leg (newest Django) only; the Django 4.2 leg runs the
rest of the suite with `-m "not browser"`. Chromium missing is an error, never a skip.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, override_settings
from minio import Minio
from playwright.sync_api import BrowserContext, Page, Request, Route, sync_playwright

from examples.direct_upload.browser import (
    BodySizes,
    HeldRequests,
    choose,
    chromium,
    direct_upload,
    log_in,
    serve,
    submit,
    wait_for_state,
)
from examples.direct_upload.forms import MAX_SIZE
from tests.helpers import open_uploads, stored_bytes, stored_names
from tests.servers import S3Server
from tests.settings import PRIVATE_BUCKET

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MiB = 1024 * 1024
BODY_LIMIT = 64 * 1024  # the largest request body Django may see: a form with a token, never the file
SCREENSHOTS = os.environ.get("DMB_SCREENSHOTS")  # a directory: also save the README's screenshots there


@pytest.fixture
def site(live_settings: dict[str, Any], unique: str) -> Iterator[tuple[str, str, BodySizes]]:
    """The example project on a live server, uploads staged under a prefix of this test's own and allowed from the
    page's origin by the bucket's CORS rule (set by initialize_buckets); yields (base URL, prefix, body sizes)."""
    sizes = BodySizes()
    prefix = f"{unique}-staged/"
    with serve(sizes) as base_url:
        storages = copy.deepcopy(live_settings)
        storages["default"]["OPTIONS"].update(
            MINIO_DIRECT_UPLOAD_PREFIX=prefix, MINIO_CORS_ALLOWED_ORIGINS=[base_url], MINIO_MULTIPART_UPLOAD=True
        )
        storages["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
        with override_settings(STORAGES=storages, ALLOWED_HOSTS=["127.0.0.1"], DEBUG=False):
            call_command("initialize_buckets", "--silenced")
            yield base_url, prefix, sizes


@pytest.fixture
def page(site: tuple[str, str, BodySizes], tmp_path: Path) -> Iterator[Page]:
    """A fresh headless Chromium, logged in to the example site, on the example page."""
    base_url = site[0]
    client = Client()
    client.force_login(User.objects.create_user(username="uploader", password="pw"))
    with sync_playwright() as playwright:
        context: BrowserContext = chromium(playwright, tmp_path / "profile")
        try:
            log_in(context, base_url, client.session.session_key or "")
            page = context.new_page()
            page.goto(base_url + "/")
            yield page
        finally:
            context.close()


def random_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def bucket_requests(page: Page, endpoint: str) -> list[Request]:
    """Every request the page sends to the bucket's server, from now on."""
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request) if f"//{endpoint}/" in request.url else None)
    return seen


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    """The widget as a person sees it (kept small: just the form)."""
    for directory in filter(None, (str(tmp_path), SCREENSHOTS)):
        target = Path(directory) / name
        page.locator("form").screenshot(path=str(target))
        assert target.stat().st_size > 1000


def test_the_example_page_uploads_1_and_40_mib_straight_to_the_bucket(
    page: Page, site: tuple[str, str, BodySizes], admin_client: Minio, s3_server: S3Server, tmp_path: Path
) -> None:
    base_url, prefix, sizes = site
    to_bucket = bucket_requests(page, s3_server.endpoint)
    for size, name in ((MiB, "one.bin"), (40 * MiB, "forty.bin")):
        page.goto(base_url + "/")
        data = random_file(tmp_path / name, size)
        page.fill("input[name=title]", name)
        direct_upload(page, tmp_path / name)
        assert page.input_value("[data-dmb-token]")  # the token, waiting for the form to be submitted
        if size > MiB:
            screenshot(page, "direct-upload-done.png", tmp_path)
        stored = submit(page)
        assert stored.startswith("uploads/") and stored_bytes(admin_client, stored) == data
    methods = [(request.method, "partNumber=" in request.url) for request in to_bucket if request.method != "OPTIONS"]
    assert methods == [("POST", False)] + [("PUT", True)] * 4  # one form POST, then 4 parts of 10 MiB
    assert stored_names(admin_client, PRIVATE_BUCKET, prefix) == set()  # both staged objects moved
    assert 0 < sizes.largest() <= BODY_LIMIT, sorted(sizes.seen, key=lambda seen: -seen[2])[
        :3
    ]  # (method, path, size, s)


def test_a_failed_part_is_retried(page: Page, admin_client: Minio, tmp_path: Path) -> None:
    failed: list[str] = []

    def fail_part_2_once(route: Route) -> None:
        if "partNumber=2&" in route.request.url and route.request.method == "PUT" and not failed:
            failed.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/*", fail_part_2_once)
    data = random_file(tmp_path / "twelve.bin", 12 * MiB)  # parts of 10 MiB: part 2 holds the last 2 MiB
    direct_upload(page, tmp_path / "twelve.bin")
    stored = submit(page)
    assert len(failed) == 1 and stored_bytes(admin_client, stored) == data


def test_a_cancelled_upload_leaves_nothing_in_the_bucket(
    page: Page, site: tuple[str, str, BodySizes], admin_client: Minio, tmp_path: Path
) -> None:
    prefix = site[1]
    held = HeldRequests(page, lambda url: "partNumber=3&" in url)  # part 3 waits: the upload stays in flight
    random_file(tmp_path / "forty.bin", 40 * MiB)
    choose(page, tmp_path / "forty.bin")
    page.wait_for_function("document.querySelector('[data-dmb-progress]').value >= 75", timeout=120_000)
    assert page.get_attribute("[data-dmb-upload]", "data-dmb-state") == "uploading"
    assert len(open_uploads(admin_client, prefix)) == 1
    screenshot(page, "direct-upload-progress.png", tmp_path)
    page.click("[data-dmb-cancel]")
    held.fail()
    assert wait_for_state(page, "cancelled", "failed") == "cancelled"
    assert page.input_value("[data-dmb-token]") == ""
    assert open_uploads(admin_client, prefix) == []
    assert stored_names(admin_client, PRIVATE_BUCKET, prefix) == set()


def test_an_oversize_file_is_refused_before_the_upload_and_by_the_server(
    page: Page, site: tuple[str, str, BodySizes], admin_client: Minio, s3_server: S3Server, tmp_path: Path
) -> None:
    prefix = site[1]
    big = tmp_path / "too-big.bin"
    with big.open("wb") as file:
        file.truncate(MAX_SIZE + 1)  # sparse: nothing of it is ever read
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.method != "GET" else None)
    choose(page, big)
    assert wait_for_state(page, "refused") == "refused"
    assert "at most 64.0 MiB are allowed" in str(page.text_content("[data-dmb-status]"))
    assert sent == []  # refused in the page: no ticket asked for, nothing sent

    page.evaluate("document.querySelector('[data-dmb-upload]').dataset.maxSize = String(2 ** 40)")  # a forged page
    page.set_input_files("[data-dmb-file]", [])
    choose(page, big)
    assert wait_for_state(page, "failed") == "failed"
    assert f"at most {MAX_SIZE} are allowed" in str(page.text_content("[data-dmb-status]"))  # the ticket view's 400
    assert [url for url in sent if s3_server.endpoint in url] == []
    assert stored_names(admin_client, PRIVATE_BUCKET, prefix) == set()


def test_choosing_another_file_drops_the_previous_upload(
    page: Page, site: tuple[str, str, BodySizes], admin_client: Minio, tmp_path: Path
) -> None:
    prefix = site[1]
    random_file(tmp_path / "first.txt", 1000)
    second = random_file(tmp_path / "second.txt", 2000)
    direct_upload(page, tmp_path / "first.txt")
    first_token = page.input_value("[data-dmb-token]")
    direct_upload(page, tmp_path / "second.txt")
    assert page.input_value("[data-dmb-token]") not in ("", first_token)
    stored = submit(page)
    assert stored.startswith("uploads/second") and stored_bytes(admin_client, stored) == second
    assert stored_names(admin_client, PRIVATE_BUCKET, prefix) == set()  # the first one was deleted, not left behind
