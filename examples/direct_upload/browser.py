"""Driving the example page in a real browser: Debian's headless Chromium through Playwright, and a Django
server that records the size of every request body it receives (the browser tests, measure.py).

Nothing is downloaded at run time: Playwright is pointed at the system's `/usr/bin/chromium` (`DMB_CHROMIUM`
overrides it; `.ci/ensure-chromium` installs it), never at a browser build of its own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connections
from django.test.testcases import LiveServerThread
from playwright.sync_api import BrowserContext, Page, Playwright, Route

CHROMIUM = os.environ.get("DMB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UPLOAD_TIMEOUT_MS = 120_000


def chromium(playwright: Playwright, profile: Path) -> BrowserContext:
    """Headless Chromium with a fresh profile directory; a clear error when it is not installed."""
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: run .ci/ensure-chromium (apt-get install chromium)")
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 720, "height": 420},
    )


@dataclass
class BodySizes:
    """(method, path, body bytes, seconds spent in Django) of every request the Django server received."""

    seen: list[tuple[str, str, int, float]] = field(default_factory=list)

    def largest(self, since: int = 0) -> int:
        """The largest body among the requests from index `since` on."""
        return max((size for _, _, size, _ in self.seen[since:]), default=0)

    def busy(self, since: int = 0) -> float:
        """Seconds Django spent handling the requests from index `since` on (a worker held that long)."""
        return sum(seconds for _, _, _, seconds in self.seen[since:])


def _recording(sizes: BodySizes) -> type[StaticFilesHandler]:
    class Recording(StaticFilesHandler):
        def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            length = int(environ.get("CONTENT_LENGTH") or 0)  # Django's server takes no chunked bodies
            started = time.perf_counter()
            try:
                return super().__call__(environ, start_response)
            finally:
                took = time.perf_counter() - started
                sizes.seen.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), length, took))

    return Recording


@contextmanager
def serve(sizes: BodySizes, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Django on a free port in a thread (static files from the apps); yields its base URL. An in-memory SQLite
    database is shared with the thread, as LiveServerTestCase does."""
    shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and _in_memory(c)}
    for connection in shared.values():
        connection.inc_thread_sharing()
    server = LiveServerThread(host, _recording(sizes), connections_override=shared, port=port)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    try:
        if server.error:
            raise server.error
        yield f"http://{host}:{server.port}"
    finally:
        server.terminate()
        for connection in shared.values():
            connection.dec_thread_sharing()


def _in_memory(connection: Any) -> bool:
    return bool(connection.is_in_memory_db())


def log_in(context: BrowserContext, base_url: str, session_key: str) -> None:
    """Give the browser the session cookie of a user logged in on the Django side."""
    context.add_cookies([{"name": "sessionid", "value": session_key, "url": base_url}])


def choose(page: Page, path: Path) -> None:
    """Pick a file in the widget's file input, as a person would with the file dialog."""
    page.set_input_files("[data-dmb-file]", str(path))


def wait_for_state(page: Page, *states: str, timeout: float = UPLOAD_TIMEOUT_MS) -> str:
    """Wait until the widget is in one of `states` (done, failed, cancelled, refused); return it."""
    selector = ", ".join(f'[data-dmb-upload][data-dmb-state="{state}"]' for state in states)
    page.wait_for_selector(selector, state="attached", timeout=timeout)
    return str(page.get_attribute("[data-dmb-upload]", "data-dmb-state"))


def direct_upload(page: Page, path: Path) -> float:
    """Choose `path` in the widget and wait for the upload to finish; the seconds it took."""
    started = time.perf_counter()
    choose(page, path)
    state = wait_for_state(page, "done", "failed", "refused", "cancelled")
    elapsed = time.perf_counter() - started
    if state != "done":
        raise AssertionError(f"the upload ended {state}: {page.text_content('[data-dmb-status]')}")
    return elapsed


def submit(page: Page) -> str:
    """Submit the example form and return the stored name the result page shows."""
    with page.expect_navigation(url="**/done/**", timeout=UPLOAD_TIMEOUT_MS):
        page.click("button[type=submit]")
    return str(page.text_content("[data-name]"))


class HeldRequests:
    """Requests to the bucket matching a predicate are held (not sent) until released or failed: lets a test see
    the widget mid-upload, or fail a part once."""

    def __init__(self, page: Page, matches: Callable[[str], bool]) -> None:
        self.routes: list[Route] = []
        self._matches = matches
        page.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        if self._matches(route.request.url):
            self.routes.append(route)
        else:
            route.continue_()

    def release(self) -> None:
        routes, self.routes = self.routes, []
        for route in routes:
            route.continue_()

    def fail(self) -> None:
        routes, self.routes = self.routes, []
        for route in routes:
            route.abort("connectionreset")
