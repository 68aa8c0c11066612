"""clean_orphaned_minio_files: this package against the previous release (4.4.4), same bucket, same rows,
and the dry run against the number of objects in the bucket (1,000 ... 100,000).

    python -m perf.orphans [--quick] [--json PATH]

Both commands run in child processes (the two packages share a module name) against one SQLite file
whose rows reference every fifth object; only the command itself is timed, Django's start-up is not.
The bucket grows from one size to the next with parallel empty PUTs (about 1,000 a second here). At the
table's size the deleting runs are measured too, the deleted objects put back after each.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perf._bench import PREVIOUS, ROOT, child_json, previous_release
from perf._results import OURS

if TYPE_CHECKING:
    from perf._bench import Bench

TOPIC = "orphans"
EVERY = 5  # one row references every fifth object
CHECK_MISSING_ROWS = 5_000  # 4.4.4 sends a HEAD per row and alias: --check-missing only up to this many rows

SETTINGS = """
    import os
    from tests.settings import *  # noqa: F403
    from tests.settings import STORAGES as _STORAGES

    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_DB"]}}
    STORAGES = {alias: {**config, "OPTIONS": {**config["OPTIONS"]}} for alias, config in _STORAGES.items()}
    for _config in STORAGES.values():
        _config["OPTIONS"].update(
            MINIO_ENDPOINT=os.environ["BENCH_ENDPOINT"],
            MINIO_ACCESS_KEY=os.environ["BENCH_ACCESS_KEY"],
            MINIO_SECRET_KEY=os.environ["BENCH_SECRET_KEY"],
        )
"""

CHILD = """
import io, json, sys, time
import django
django.setup()
from django.core.management import call_command
out, err = io.StringIO(), io.StringIO()
started = time.perf_counter()
call_command("clean_orphaned_minio_files", *sys.argv[1:], stdout=out, stderr=err)
import django_minio_backend
print(json.dumps({"seconds": time.perf_counter() - started, "package": django_minio_backend.__file__}))
"""

ROWS = """
import sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", run_syncdb=True, verbosity=0)
from tests.testapp.models import Album
Album.objects.all().delete()
rows, every = int(sys.argv[1]), int(sys.argv[2])
Album.objects.bulk_create([Album(backup=f"bulk/{i * every:06d}.bin") for i in range(rows)], batch_size=500)
"""


def _name(index: int) -> str:
    return f"bulk/{index:06d}.bin"


class _Bucket:
    """The cleaner's bucket (the test settings' backup bucket), filled with empty objects in parallel."""

    def __init__(self, bench: Bench) -> None:
        from minio import Minio
        from urllib3 import PoolManager

        from tests.settings import ARCHIVE_BUCKET, BACKUP_BUCKET, PRIVATE_BUCKET, PUBLIC_BUCKET

        server = bench.server
        self.name = BACKUP_BUCKET
        self.client = Minio(
            endpoint=server.endpoint,
            access_key=server.access_key,
            secret_key=server.secret_key,
            secure=False,
            http_client=PoolManager(maxsize=16),
        )
        for bucket in (PRIVATE_BUCKET, PUBLIC_BUCKET, ARCHIVE_BUCKET, BACKUP_BUCKET):
            if not self.client.bucket_exists(bucket_name=bucket):
                self.client.make_bucket(bucket_name=bucket)

    def put(self, indexes: Sequence[int]) -> None:
        def one(index: int) -> None:
            self.client.put_object(bucket_name=self.name, object_name=_name(index), data=io.BytesIO(b""), length=0)

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(one, indexes))

    def count(self) -> int:
        return sum(1 for _ in self.client.list_objects(bucket_name=self.name, recursive=True))


class _Commands:
    """Runs the command of either package in a child process with the bench settings."""

    def __init__(self, bench: Bench, previous: Path | None) -> None:
        workdir = bench.workdir / "orphans"
        workdir.mkdir(exist_ok=True)
        (workdir / "bench_settings.py").write_text(textwrap.dedent(SETTINGS))
        self.workdir = workdir
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "BENCH_DB": str(workdir / "bench.sqlite3"),
            "BENCH_ENDPOINT": bench.server.endpoint,
            "BENCH_ACCESS_KEY": bench.server.access_key,
            "BENCH_SECRET_KEY": bench.server.secret_key,
        }
        self.paths = {OURS: os.pathsep.join([str(ROOT), str(workdir)])}
        if previous is not None:
            self.paths[PREVIOUS] = os.pathsep.join([str(previous), str(ROOT), str(workdir)])

    def rows(self, count: int) -> None:
        command = [sys.executable, "-c", ROWS, str(count), str(EVERY)]
        env = {**self.env, "PYTHONPATH": self.paths[OURS]}
        subprocess.run(command, env=env, cwd=self.workdir, check=True)

    def seconds(self, library: str, *args: str) -> float:
        """Run the command of `library` (its import path first, the cwd not on it); its own time."""
        pythonpath = self.paths[library]
        found: dict[str, Any] = child_json(
            [sys.executable, "-c", CHILD, *args],
            env={**self.env, "PYTHONPATH": pythonpath},
            cwd=self.workdir,
            label=f"{library} clean_orphaned_minio_files",
        )
        expected = pythonpath.split(os.pathsep)[0]
        if not str(found["package"]).startswith(expected):
            raise RuntimeError(f"child imported {found['package']}, not the package under {expected}")
        return float(found["seconds"])


# The arguments of each run, for ours and the previous release (which has no --older-than and deletes
# without asking).
DRY_RUN = {OURS: ["--dry-run", "--older-than", "0"], PREVIOUS: ["--dry-run"]}
CHECK_MISSING = {library: [*args, "--check-missing"] for library, args in DRY_RUN.items()}
DELETE = {OURS: ["--older-than", "0", "--noinput"], PREVIOUS: []}


def run(bench: Bench) -> None:
    results = bench.results
    previous = previous_release()
    if isinstance(previous, str):
        results.note(TOPIC, f"{PREVIOUS}: {previous}")
    commands = _Commands(bench, None if isinstance(previous, str) else previous)
    libraries = list(commands.paths)
    bucket = _Bucket(bench)
    sizes = bench.pick([1_000, 3_000, 10_000, 30_000, 100_000], [200, 1_000])
    table_size = bench.pick(10_000, 200)
    repeat = bench.pick(3, 1)
    curve = results.curve(TOPIC, "dry run", "objects in the bucket", "time", "s", per="objects")
    filled = 0
    for size in sizes:
        bucket.put(range(filled, size))
        filled = size
        rows = size // EVERY
        commands.rows(rows)
        dry = {
            library: min(commands.seconds(library, *DRY_RUN[library]) for _ in range(repeat)) for library in libraries
        }
        for library, seconds in dry.items():
            curve.add(library, size, seconds)
        if size != table_size:
            continue
        case = f"{size:,} objects, {rows:,} rows"
        for library, seconds in dry.items():
            results.add(TOPIC, f"{case}: dry run", "time", library, seconds, "s", "lower")
        if rows <= CHECK_MISSING_ROWS:
            for library in libraries:
                seconds = min(commands.seconds(library, *CHECK_MISSING[library]) for _ in range(repeat))
                results.add(TOPIC, f"{case}: dry run + --check-missing", "time", library, seconds, "s", "lower")
        orphans = [index for index in range(size) if index % EVERY]
        for library in libraries:
            times = []
            for _ in range(repeat):
                times.append(commands.seconds(library, *DELETE[library]))
                left = bucket.count()
                bucket.put(orphans)
                if left != size - len(orphans):
                    break
            if left == size - len(orphans):
                results.add(TOPIC, f"{case}: delete the orphans", "time", library, min(times), "s", "lower")
            elif library == OURS:
                raise RuntimeError(f"{left} objects left after deleting, expected {size - len(orphans)}")
            else:  # 4.4.4 with the minio it pins: remove_objects() takes keywords only; it prints the error
                results.note(TOPIC, f"{library} deleted nothing ({left} of {size} objects left): not measured")
    results.note(TOPIC, f"best of {repeat}; the curve grows one bucket with empty objects, rows = objects / {EVERY}")


def main() -> None:
    from perf.__main__ import topic_main

    topic_main(TOPIC)


if __name__ == "__main__":
    main()
