"""Uploads and downloads: throughput, peak memory and the client's own CPU per GiB, for ours, the raw minio
SDK, the previous release (django-minio-backend 4.4.4) and django-storages (boto3), in the same run; and
the cost of one save against its size (1 KiB ... 256 MiB: per-request overhead, then throughput).

    python -m perf.transfer [--quick] [--json PATH]

Each library runs in a fresh child process per repeat, which saves batches of files of one size
(200 x 1 KiB ... 1 x 256 MiB) and then reads each batch back with open() and read(1 MiB) until the end
(the SDK: get_object() and stream(1 MiB)), each direction repeated until it has taken half a second.
For each batch it reports seconds, peak RSS growth above the process's state just before (VmHWM, reset
per batch), and process CPU time (all its threads, no child processes). 8 MiB parts, 4 in parallel
wherever the library lets us say so. MB/s are 10^6 bytes per second.

The machine is shared (with the server, and often with other work), so the whole run is repeated: each run
starts every library in turn, in an order that rotates from run to run, so a burst of load hits them
alike. A figure is the median over the runs, with their lowest and highest as its spread (memory: the
highest). The targets are checked on ratios paired within a run (ours / SDK, measured a minute apart),
again the median with the spread, which drift in the machine's load moves far less than either figure.

The previous release has our module name, so it runs from its own directory (with the minio SDK version
it pins), only in a child process whose PYTHONPATH points there. Its multipart path (put_object with
length=-1 on minio 7.2.19) fails with BadDigest on SeaweedFS, so it runs with its default: one PUT of
the file read whole into memory.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perf._bench import Bench

TOPIC = "transfer"
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
PART = 8 * MiB
WORKERS = 4
READ = MiB  # what the reading loop asks for at a time
READ_CHUNK = 4 * MiB  # MINIO_READ_CHUNK_SIZE, the default: peak memory of a read should stay under 2 of them
BUCKET = "perf-transfer"
ROOT = Path(__file__).resolve().parent.parent
SDK = "minio-sdk"
STORAGES = "django-storages"
# (files, size) per batch; the 1 MiB, 64 MiB and 256 MiB batches are the throughput table's scenarios
FULL = [
    (200, KiB),
    (100, 16 * KiB),
    (50, 256 * KiB),
    (50, MiB),
    (16, 4 * MiB),
    (4, 16 * MiB),
    (2, 64 * MiB),
    (1, 256 * MiB),
]
QUICK = [(4, KiB), (2, 64 * KiB), (2, MiB), (1, 16 * MiB)]
MIN_SECONDS = 0.5  # each batch is repeated until it has taken this long (--quick: once)
RUNS = 5  # whole runs of every library, interleaved (--quick: one)
# library -> its runs -> each batch's {"upload": figures, "download": figures}
Runs = dict[str, list[list[dict[str, dict[str, float]]]]]
TARGET_SIZES = {64 * MiB, 256 * MiB}  # where the download and CPU targets are checked (quick: its largest)


# -- child side: one library, every batch, fresh process ----------------------------------------------
def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _measure(action: Callable[[], None]) -> dict[str, float]:
    """Seconds, process CPU seconds and peak RSS growth (MiB) of `action`, the peak reset just before it."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")  # resets VmHWM (peak RSS) to the current RSS
    before = _status_kib("VmRSS")
    cpu = time.process_time()
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    return {
        "s": elapsed,
        "cpu_s": time.process_time() - cpu,
        "rss_mib": max(0, _status_kib("VmHWM") - before) / 1024,
    }


def _configure_django(options: dict[str, Any], backend: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=[],
        USE_TZ=True,
        STORAGES={"default": {"BACKEND": backend, "OPTIONS": options}},
        SECRET_KEY="perf",
    )
    django.setup()


class _Library:
    """What a child needs from each library: save a local file, read an object back."""

    def __init__(self, name: str, endpoint: str, access_key: str, secret_key: str) -> None:
        self.name = name
        minio_options = {
            "MINIO_ENDPOINT": endpoint,
            "MINIO_ACCESS_KEY": access_key,
            "MINIO_SECRET_KEY": secret_key,
            "MINIO_USE_HTTPS": False,
            "MINIO_DEFAULT_BUCKET": BUCKET,
            "MINIO_PRIVATE_BUCKETS": [BUCKET],
            "MINIO_MULTIPART_UPLOAD": True,
            "MINIO_MULTIPART_THRESHOLD": PART,
            "MINIO_MULTIPART_PART_SIZE": PART,
        }
        backend = "django_minio_backend.models.MinioBackend"  # ours and the previous release: same import path
        if name == "ours":
            _configure_django({**minio_options, "MINIO_UPLOAD_WORKERS": WORKERS}, backend)
            from django_minio_backend import MinioBackend

            self.storage: Any = MinioBackend(bucket_name=BUCKET)
        elif name == "previous":
            _configure_django({**minio_options, "MINIO_MULTIPART_UPLOAD": False}, backend)
            from django_minio_backend.models import MinioBackend as PreviousBackend

            self.storage = PreviousBackend(bucket_name=BUCKET, storage_name="default")
        elif name == STORAGES:
            _configure_django({}, "django.core.files.storage.FileSystemStorage")
            from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
            from storages.backends.s3 import S3Storage  # type: ignore[import-untyped]

            self.storage = S3Storage(
                bucket_name=BUCKET,
                endpoint_url=f"http://{endpoint}",
                access_key=access_key,
                secret_key=secret_key,
                region_name="us-east-1",
                addressing_style="path",
                file_overwrite=False,  # like ours and the previous release: a taken name is not overwritten
                transfer_config=TransferConfig(
                    multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=WORKERS, use_threads=True
                ),
            )
        else:
            from minio import Minio

            self.client = Minio(endpoint=endpoint, access_key=access_key, secret_key=secret_key, secure=False)

    def warm_up(self, path: str) -> None:
        """Imports, clients, first connections and first-call set-ups (such as the MIME table), outside the
        measured part: one small save and read."""
        self.download(self.upload(path, f"warm-up/{self.name}"))

    def upload(self, path: str, name: str) -> str:
        if self.name == SDK:
            with open(path, "rb") as data:
                self.client.put_object(
                    bucket_name=BUCKET,
                    object_name=name,
                    data=data,
                    length=os.path.getsize(path),
                    part_size=PART,
                    num_parallel_uploads=WORKERS,
                )
            return name
        from django.core.files.base import File

        with open(path, "rb") as data:
            return str(self.storage.save(name, File(data)))

    def download(self, name: str) -> int:
        total = 0
        if self.name == SDK:
            response = self.client.get_object(bucket_name=BUCKET, object_name=name)
            try:
                for chunk in response.stream(READ):
                    total += len(chunk)
            finally:
                response.close()
                response.release_conn()
            return total
        with self.storage.open(name, "rb") as handle:
            while chunk := handle.read(READ):
                total += len(chunk)
        return total


def _passes(action: Callable[[int], None], min_seconds: float) -> dict[str, float]:
    """Seconds and CPU seconds per pass of `action(pass)`, repeated until it has taken `min_seconds` (at least
    once), so that short batches still give figures well above the noise; the peak memory of all passes."""
    passes = 0

    def repeated() -> None:
        nonlocal passes
        started = time.perf_counter()
        while passes == 0 or time.perf_counter() - started < min_seconds:
            action(passes)
            passes += 1

    measured = _measure(repeated)
    return {
        "s": measured["s"] / passes,
        "cpu_s": measured["cpu_s"] / passes,
        "rss_mib": measured["rss_mib"],
        "passes": passes,
    }


def _batch(library: _Library, files: list[tuple[str, str]], min_seconds: float) -> dict[str, Any]:
    """Save the files (under new names each pass), then read back what the last pass saved."""
    names: list[str] = []

    def upload(index: int) -> None:
        names[:] = [library.upload(path, name.format(index)) for path, name in files]

    def download(_: int) -> None:
        sizes = [library.download(name) for name in names]
        if sizes != expected:
            raise SystemExit(f"{library.name}: read back {sizes}, expected {expected}")

    expected = [os.path.getsize(path) for path, _ in files]
    return {"upload": _passes(upload, min_seconds), "download": _passes(download, min_seconds)}


def child(
    library_name: str, server: dict[str, str], batches: list[list[tuple[str, str]]], min_seconds: float
) -> list[dict[str, Any]]:
    library = _Library(library_name, server["endpoint"], server["access_key"], server["secret_key"])
    library.warm_up(batches[0][0][0])
    return [_batch(library, files, min_seconds) for files in batches]


# -- parent side -------------------------------------------------------------------------------------
def _make_file(directory: Path, size: int) -> str:
    path = directory / f"transfer-{size}.bin"
    if not path.exists():
        with path.open("wb") as out:
            left = size
            while left:
                out.write(os.urandom(min(left, MiB)))
                left -= min(left, MiB)
    return str(path)


def _run_child(bench: Bench, library: str, batches: list[list[tuple[str, str]]]) -> list[dict[str, Any]]:
    from perf._bench import child_json, clean_env, previous_release

    previous = previous_release()
    # The script's own directory (perf/) comes first on sys.path, never the project root, so the previous
    # release's module of the same name is what `import django_minio_backend` finds in its child.
    pythonpath = str(previous) if library == "previous" else str(ROOT)
    server = {
        "endpoint": bench.server.endpoint,
        "access_key": bench.server.access_key,
        "secret_key": bench.server.secret_key,
    }
    command = [
        sys.executable,
        __file__,
        "--child",
        library,
        json.dumps(server),
        json.dumps(batches),
        str(bench.pick(MIN_SECONDS, 0.0)),
    ]
    found: list[dict[str, Any]] = child_json(command, env=clean_env(pythonpath), cwd=bench.workdir, label=library)
    return found


def _clear(client: Any, prefix: str) -> None:
    from minio.deleteobjects import DeleteObject

    listed = client.list_objects(bucket_name=BUCKET, prefix=prefix, recursive=True)
    for error in client.remove_objects(
        bucket_name=BUCKET, delete_object_list=[DeleteObject(item.object_name) for item in listed]
    ):
        raise RuntimeError(f"cleanup failed: {error}")


def _size(size: int) -> str:
    return f"{size // MiB} MiB" if size >= MiB else f"{size // KiB} KiB"


def run(bench: Bench) -> None:
    from minio import Minio

    from perf._bench import PREVIOUS, previous_release, storages_installed
    from perf._results import OURS

    results = bench.results
    labels = {"ours": OURS, SDK: SDK, "previous": PREVIOUS, STORAGES: STORAGES}
    libraries = ["ours", SDK]
    previous = previous_release()
    if isinstance(previous, str):
        results.note(TOPIC, f"{PREVIOUS}: {previous}")
    else:
        libraries.append("previous")
    if storages_installed():
        libraries.append(STORAGES)
    else:
        results.note(TOPIC, "django-storages not installed (pip install -e '.[bench]'): not measured")
    plan = bench.pick(FULL, QUICK)
    repeat = bench.pick(RUNS, 1)
    paths = [_make_file(bench.workdir, size) for _, size in plan]
    admin = Minio(
        endpoint=bench.server.endpoint,
        access_key=bench.server.access_key,
        secret_key=bench.server.secret_key,
        secure=False,
    )
    if not admin.bucket_exists(bucket_name=BUCKET):
        admin.make_bucket(bucket_name=BUCKET)
    runs: Runs = {library: [] for library in libraries}
    for run_index in range(repeat):
        shift = run_index % len(libraries)  # each library comes first in turn, so none always follows another
        for library in libraries[shift:] + libraries[:shift]:
            prefix = f"{library}/{run_index}/"
            batches = [
                [(path, f"{prefix}{size}/{{}}/{index}.bin") for index in range(count)]  # {}: the pass
                for (count, size), path in zip(plan, paths, strict=True)
            ]
            runs[library].append(_run_child(bench, library, batches))
            _clear(admin, prefix)
        bench.server.vacuum()

    per_file = {
        direction: results.curve(TOPIC, f"{verb}: seconds per file", "file size (bytes)", "time per file", "s")
        for direction, verb in (("upload", "save()"), ("download", "open() + read() to the end"))
    }
    for library, found in runs.items():
        label = labels[library]
        for batch, (count, size) in enumerate(plan):
            moved = count * size
            for direction in ("upload", "download"):
                case = f"{direction} {count} x {_size(size)}"
                measured = [run[batch][direction] for run in found]
                rates = [moved / one["s"] / 1e6 for one in measured]
                cpu = [one["cpu_s"] / (moved / GiB) for one in measured]
                rss = max(one["rss_mib"] for one in measured)
                rate, rate_spread = _median(rates)
                results.add(TOPIC, case, "throughput", label, rate, "MB/s", "higher", rate_spread)
                cpu_median, cpu_spread = _median(cpu)
                results.add(TOPIC, case, "CPU", label, cpu_median, "CPU s/GiB", "lower", cpu_spread)
                results.add(TOPIC, case, "peak RSS growth", label, rss, "MiB", "lower")
                per_file[direction].add(label, size, statistics.median(one["s"] for one in measured) / count)
    for direction, curve in per_file.items():
        for library, points in curve.series.items():
            results.note(TOPIC, f"{direction}, {library}: {_overhead_and_throughput(points)}")
    results.note(
        TOPIC,
        f"median (low..high) of {repeat} interleaved runs, each repeating a batch for at least "
        f"{bench.pick(MIN_SECONDS, 0.0)} s; memory: the highest; {PART // MiB} MiB parts, {WORKERS} workers; "
        f"reads of {READ // MiB} MiB",
    )
    _check(bench, plan, runs)


def _median(values: list[float]) -> tuple[float, tuple[float, float] | None]:
    """The median and, of several values, the lowest and highest (their spread)."""
    return statistics.median(values), (min(values), max(values)) if len(values) > 1 else None


def _overhead_and_throughput(points: list[tuple[float, float]]) -> str:
    """The curve as t(size) = overhead + size / throughput: the overhead is the time of the smallest file, the
    throughput what the largest adds to it; the two cost alike at overhead x throughput bytes."""
    (smallest, overhead), (largest, seconds) = min(points), max(points)
    if seconds <= overhead or largest <= smallest:
        return f"{overhead * 1e3:.2f} ms per request; no throughput to tell"
    rate = (largest - smallest) / (seconds - overhead)
    return (
        f"{overhead * 1e3:.2f} ms per request, {rate / 1e6:.0f} MB/s beyond it; "
        f"the two cost alike at {overhead * rate / KiB:,.0f} KiB"
    )


def _check(bench: Bench, plan: list[tuple[int, int]], runs: Runs) -> None:
    """The issue's targets, at 64 and 256 MiB (--quick: at its largest size), on ratios paired within each run."""
    from perf._results import OURS

    results = bench.results
    sizes = [(count, size) for count, size in plan if size in TARGET_SIZES] or [plan[-1]]
    figures = {fig.key: fig.value for fig in results.figures if fig.topic == TOPIC}
    for count, size in sizes:
        batch = plan.index((count, size))
        up, down = f"upload {count} x {_size(size)}", f"download {count} x {_size(size)}"

        targets = [
            (f"{down}: throughput ours / SDK", _paired(runs, batch, "download", "s"), ">= 1.0"),
            (f"{up}: CPU per GiB ours / SDK", _paired(runs, batch, "upload", "cpu_s"), "<= 0.7"),
            (f"{down}: CPU per GiB ours / SDK", _paired(runs, batch, "download", "cpu_s"), "<= 1.0"),
        ]
        for name, ratios, target in targets:
            if ratios:
                ratio, spread = _median(ratios)
                results.check(TOPIC, f"{name} (median of {len(ratios)} paired runs)", ratio, target, spread)
        rss = figures.get((TOPIC, down, "peak RSS growth", OURS))
        if rss is not None:
            results.check(TOPIC, f"{down}: peak RSS growth, MiB", rss, f"<= {2 * READ_CHUNK / MiB:g}")


def _paired(runs: Runs, batch: int, direction: str, metric: str) -> list[float]:
    """Run by run, ours / SDK of a batch's `metric` ("s", seconds, is turned into the throughput ratio SDK / ours)."""
    ratios = []
    for mine, theirs in zip(runs.get("ours", []), runs.get(SDK, []), strict=False):
        ours, peer = mine[batch][direction][metric], theirs[batch][direction][metric]
        if ours and peer:
            ratios.append(peer / ours if metric == "s" else ours / peer)
    return ratios


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        library, server, batches = sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
        print(json.dumps(child(library, server, batches, float(sys.argv[5]))))
        return
    from perf.__main__ import topic_main

    topic_main(TOPIC)


if __name__ == "__main__":
    main()
