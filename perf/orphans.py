"""clean_orphaned_minio_files: this package against the previous release (4.4.4), same bucket, same rows.

Run from the repository root:

    pip install --target /tmp/prev django-minio-backend==4.4.4 --no-deps
    python perf/orphans.py [--objects 10000] [--referenced 2000] [--previous /tmp/prev]

Both commands run in child processes (the two packages share a module name) against one SeaweedFS
server and one SQLite file; only the command itself is timed, Django's start-up is not. The bucket
is filled again before every deleting run. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import S3Server, start_seaweedfs  # noqa: E402 - after the path set-up
from tests.settings import ARCHIVE_BUCKET, BACKUP_BUCKET, PRIVATE_BUCKET, PUBLIC_BUCKET  # noqa: E402

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


def child(env: dict[str, str], pythonpath: str, *args: str) -> float:
    """Run the command in a child whose import path starts with `pythonpath` (the cwd is not on it)."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        env={**env, "PYTHONPATH": pythonpath},
        cwd=env["BENCH_WORKDIR"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    expected = pythonpath.split(os.pathsep)[0]
    if not str(found["package"]).startswith(expected):
        raise RuntimeError(f"child imported {found['package']}, not the package under {expected}")
    return float(found["seconds"])


def fill(server: S3Server, names: list[str]) -> None:
    from minio import Minio

    client = Minio(endpoint=server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False)
    for bucket in (PRIVATE_BUCKET, PUBLIC_BUCKET, ARCHIVE_BUCKET, BACKUP_BUCKET):
        if not client.bucket_exists(bucket_name=bucket):
            client.make_bucket(bucket_name=bucket)

    def one(name: str) -> None:
        client.put_object(bucket_name=BACKUP_BUCKET, object_name=name, data=io.BytesIO(b"x"), length=1)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, names))


def count(server: S3Server) -> int:
    from minio import Minio

    client = Minio(endpoint=server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False)
    return sum(1 for _ in client.list_objects(bucket_name=BACKUP_BUCKET, recursive=True))


def best(runs: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=10_000, help="objects in the bucket")
    parser.add_argument("--rows", type=int, default=2_000, help="rows referencing objects (beyond --objects: missing)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is shown")
    parser.add_argument("--previous", default="/tmp/prev")
    args = parser.parse_args()
    if not (Path(args.previous) / "django_minio_backend").is_dir():
        parser.error(f"previous release not found in {args.previous}: see the module docstring")

    server = start_seaweedfs()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            Path(workdir, "bench_settings.py").write_text(textwrap.dedent(SETTINGS))
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "bench_settings",
                "BENCH_DB": str(Path(workdir) / "bench.sqlite3"),
                "BENCH_ENDPOINT": server.endpoint,
                "BENCH_ACCESS_KEY": server.access_key,
                "BENCH_SECRET_KEY": server.secret_key,
                "BENCH_WORKDIR": workdir,
            }
            ours = os.pathsep.join([str(ROOT), workdir])
            previous = os.pathsep.join([args.previous, str(ROOT), workdir])
            names = [f"bulk/{index:06d}.bin" for index in range(args.objects)]
            step = max(args.objects // args.rows, 1)
            setup = (
                "import django; django.setup()\n"
                "from django.core.management import call_command\n"
                "call_command('migrate', run_syncdb=True, verbosity=0)\n"
                "from tests.testapp.models import Album\n"
                f"rows = [Album(backup=f'bulk/{{i * {step}:06d}}.bin') for i in range({args.rows})]\n"
                "Album.objects.bulk_create(rows, batch_size=500)\n"
            )
            subprocess.run([sys.executable, "-c", setup], env={**env, "PYTHONPATH": ours}, cwd=workdir, check=True)
            fill(server, names)
            kept = len({index * step for index in range(args.rows)} & set(range(args.objects)))
            print(f"{args.objects} objects in {BACKUP_BUCKET}, {args.rows} rows referencing {kept} of them")
            print(f"{'run (best of ' + str(args.repeat) + ')':34} {'this package':>13} {'4.4.4':>10} {'ratio':>7}")
            runs = [("dry run", ["--dry-run", "--older-than", "0"], ["--dry-run"])]
            if args.rows <= 5_000:  # 4.4.4 sends a HEAD per row and alias
                runs.append(
                    ("dry run + --check-missing", [*runs[0][1], "--check-missing"], ["--dry-run", "--check-missing"])
                )
            for label, our_args, old_args in runs:
                new = min(child(env, ours, *our_args) for _ in range(args.repeat))
                old = min(child(env, previous, *old_args) for _ in range(args.repeat))
                print(f"{label:34} {new:12.3f}s {old:9.3f}s {old / new:6.1f}x")

            def delete(pythonpath: str, *extra: str) -> float:
                fill(server, names)
                seconds = child(env, pythonpath, *extra)
                left = count(server)
                if left != kept:
                    raise RuntimeError(f"{left} objects left after deleting, expected {kept}")
                return seconds

            new = best(args.repeat, lambda: delete(ours, "--older-than", "0", "--noinput"))
            old = best(args.repeat, lambda: delete(previous))
            print(f"{'delete orphans (both left ' + str(kept) + ')':34} {new:12.3f}s {old:9.3f}s {old / new:6.1f}x")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
