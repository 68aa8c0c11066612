"""Upload throughput of the example page, in one run: a 40 MiB file straight to the bucket through the widget,
and the same file posted through Django (the same model form with Django's own FileField).

    python examples/direct_upload/measure.py [--rounds 3] [--size-mib 40] [--screenshots DIR]

Both are timed in headless Chromium from the moment the file is chosen (direct) or the form is submitted
(through Django) until the result page has loaded, so both include saving the row; the direct path's upload
alone is shown too. MB/s = 10^6 bytes per second; the median of the rounds, which alternate the two paths.
With --screenshots, the widget mid-upload and done are saved as PNG files in DIR (the README's pictures).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.direct_upload.project import example_project

MiB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=40)
    parser.add_argument("--screenshots", type=Path, help="save the widget mid-upload and done here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name, example_project(Path(name)) as port:
        from django.contrib.auth.models import User
        from django.test import Client
        from playwright.sync_api import sync_playwright

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

        workdir = Path(name)
        data_file = workdir / f"upload-{args.size_mib}mib.bin"
        data_file.write_bytes(os.urandom(args.size_mib * MiB))
        client = Client()
        client.force_login(User.objects.get(username="demo"))
        sizes = BodySizes()
        direct: list[tuple[float, float]] = []  # (upload, upload + submit)
        plain: list[float] = []
        with serve(sizes, port=port) as base_url, sync_playwright() as playwright:
            context = chromium(playwright, workdir / "profile")
            log_in(context, base_url, client.session.session_key or "")
            page = context.new_page()
            largest_direct = 0
            for _ in range(args.rounds):
                page.goto(base_url + "/")
                first = len(sizes.seen)
                uploaded = direct_upload(page, data_file)
                started = time.perf_counter()
                submit(page)
                direct.append((uploaded, uploaded + time.perf_counter() - started))
                largest_direct = max([largest_direct, *(size for _, _, size in sizes.seen[first:])])
                page.goto(base_url + "/plain/")
                page.set_input_files("input[type=file][name=file]", str(data_file))
                started = time.perf_counter()
                submit(page)
                plain.append(time.perf_counter() - started)
            if args.screenshots:
                args.screenshots.mkdir(parents=True, exist_ok=True)
                page.goto(base_url + "/")
                held = HeldRequests(page, lambda url: "partNumber=3&" in url)
                choose(page, data_file)
                page.wait_for_function("document.querySelector('[data-dmb-progress]').value >= 75")
                page.locator("form").screenshot(path=str(args.screenshots / "direct-upload-progress.png"))
                held.release()
                wait_for_state(page, "done")
                page.locator("form").screenshot(path=str(args.screenshots / "direct-upload-done.png"))
            context.close()
        megabytes = args.size_mib * MiB / 1e6
        upload_only = statistics.median(upload for upload, _ in direct)
        with_submit = statistics.median(total for _, total in direct)
        through_django = statistics.median(plain)
        print(
            f"{args.size_mib} MiB, median of {args.rounds} rounds, headless Chromium, Django and SeaweedFS on loopback"
        )
        print(f"  direct to the bucket, upload only : {upload_only:6.2f} s  {megabytes / upload_only:7.1f} MB/s")
        print(f"  direct to the bucket, + form post : {with_submit:6.2f} s  {megabytes / with_submit:7.1f} MB/s")
        print(f"  through Django (plain form post)  : {through_django:6.2f} s  {megabytes / through_django:7.1f} MB/s")
        print(
            f"  largest request body Django received: direct path {largest_direct} bytes, with the plain form "
            f"{sizes.largest()} bytes"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
