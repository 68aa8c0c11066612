"""Upload throughput of the example page, in one run: a 40 MiB file straight to the bucket through the widget,
and the same file posted through Django (the same model form with Django's own FileField).

    python examples/direct_upload/measure.py [--rounds 3] [--size-mib 40] [--uplink-mbps N] [--screenshots DIR]

Both are timed in headless Chromium from the moment the file is chosen (direct) or the form is submitted
(through Django) until the result page has loaded, so both include saving the row; the direct path's upload
alone is shown too. MB/s = 10^6 bytes per second; the median of the rounds, which alternate the two paths.
"Django busy" adds up the time Django spent in the requests of one upload: how long a worker is held. With
--uplink-mbps, Chromium's network emulation throttles the browser's uploads, as a user's connection would.
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
    parser.add_argument(
        "--uplink-mbps",
        type=float,
        help="throttle the browser's uploads to this many megabits/s (Chromium's emulation)",
    )
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
        direct: list[tuple[float, float, float]] = []  # (upload, upload + submit, Django busy)
        plain: list[tuple[float, float]] = []  # (submit, Django busy)
        with serve(sizes, port=port) as base_url, sync_playwright() as playwright:
            context = chromium(playwright, workdir / "profile")
            log_in(context, base_url, client.session.session_key or "")
            page = context.new_page()
            if args.uplink_mbps:
                throttle = {"offline": False, "latency": 0, "downloadThroughput": -1}
                throttle["uploadThroughput"] = args.uplink_mbps * 1e6 / 8  # bytes per second
                context.new_cdp_session(page).send("Network.emulateNetworkConditions", throttle)
            largest = {"direct": 0, "plain": 0}
            for _ in range(args.rounds):
                page.goto(base_url + "/")
                first = len(sizes.seen)
                uploaded = direct_upload(page, data_file)
                started = time.perf_counter()
                submit(page)
                direct.append((uploaded, uploaded + time.perf_counter() - started, sizes.busy(first)))
                largest["direct"] = max(largest["direct"], sizes.largest(first))
                page.goto(base_url + "/plain/")
                page.set_input_files("input[type=file][name=file]", str(data_file))
                first = len(sizes.seen)
                started = time.perf_counter()
                submit(page)
                plain.append((time.perf_counter() - started, sizes.busy(first)))
                largest["plain"] = max(largest["plain"], sizes.largest(first))
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
        rows = [
            ("direct to the bucket, upload only", [upload for upload, _, _ in direct], None),
            ("direct to the bucket, + form post", [total for _, total, _ in direct], [busy for _, _, busy in direct]),
            ("through Django (plain form post)", [total for total, _ in plain], [busy for _, busy in plain]),
        ]
        uplink = f", browser uplink throttled to {args.uplink_mbps:g} Mbit/s" if args.uplink_mbps else ""
        print(f"{args.size_mib} MiB, median of {args.rounds} rounds, Chromium, Django, SeaweedFS on loopback{uplink}")
        for label, seconds, busy in rows:
            took = statistics.median(seconds)
            worker = f", Django busy {statistics.median(busy):5.2f} s" if busy is not None else ""
            print(f"  {label:35}: {took:6.2f} s  {megabytes / took:7.1f} MB/s{worker}")
        print(
            f"  largest request body Django received: {largest['direct']} bytes direct, {largest['plain']} bytes plain"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
