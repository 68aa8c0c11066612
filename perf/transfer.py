"""Upload and download throughput and peak memory: ours against the raw minio SDK, the previous release
(django-minio-backend 4.4.4) and django-storages (boto3), all against one local SeaweedFS in the same run.

    python -m perf.transfer [--repeat N] [--only small,medium,large]

Scenarios: 50 files of 1 MiB, 2 of 64 MiB, 1 of 256 MiB; 8 MiB parts, 4 in parallel wherever the
library lets us say so. Every (library, scenario) runs in a fresh child process that reports MB/s
(10^6 bytes per second) and peak RSS growth above its own idle state, measured separately for the
uploads and for reading all the files back. Of `--repeat` runs, the fastest time and the highest
memory are shown.

The previous release has our module name, so it is installed into its own directory, with the minio
SDK version it pins in another (done here when missing:
`pip install --no-deps --target /tmp/prev-dmb django-minio-backend==4.4.4` and
`pip install --no-deps --target /tmp/prev-dmb-minio minio==7.2.19`), and only ever imported by a
child process whose PYTHONPATH points there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
PART = 8 * MiB
WORKERS = 4
BUCKET = "perf-transfer"
ROOT = Path(__file__).resolve().parent.parent
PREVIOUS_DIR = Path(os.environ.get("PERF_PREVIOUS_DIR", "/tmp/prev-dmb"))
PREVIOUS_VERSION = "4.4.4"
PREVIOUS_SDK_DIR = Path(os.environ.get("PERF_PREVIOUS_SDK_DIR", "/tmp/prev-dmb-minio"))
PREVIOUS_SDK = "minio==7.2.19"  # what 4.4.4 pins; 7.2.20 dropped put_object(headers=...) that it passes
SCENARIOS = {"small": (50, 1 * MiB), "medium": (2, 64 * MiB), "large": (1, 256 * MiB)}
BACKEND = "django_minio_backend.models.MinioBackend"  # ours and the previous release: same import path
LIBRARIES = ("ours", "minio-sdk", "previous", "django-storages")


# -- child side: one library, one scenario, fresh process ---------------------------------------------
def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _measure(action: Callable[[], None]) -> tuple[float, float]:
    """Seconds taken and peak RSS growth (MiB) of `action`, the peak counter reset just before it."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")  # resets VmHWM (peak RSS) to the current RSS
    before = _status_kib("VmRSS")
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    return elapsed, max(0, _status_kib("VmHWM") - before) / 1024


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
    """What a child needs from each library: save a local file, stream an object back."""

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
        if name == "ours":
            _configure_django(
                {**minio_options, "MINIO_UPLOAD_WORKERS": WORKERS}, "django_minio_backend.models.MinioBackend"
            )
            from django_minio_backend import MinioBackend

            self.storage: Any = MinioBackend(bucket_name=BUCKET)
        elif name == "previous":
            # Its multipart path (put_object with length=-1 on minio 7.2.19) fails with BadDigest on this
            # server, so it runs with its default: one PUT of the file read whole into memory.
            _configure_django(
                {**minio_options, "MINIO_MULTIPART_UPLOAD": False}, "django_minio_backend.models.MinioBackend"
            )
            from django_minio_backend.models import MinioBackend as PreviousBackend

            self.storage = PreviousBackend(bucket_name=BUCKET, storage_name="default")
        elif name == "django-storages":
            _configure_django({}, "django.core.files.storage.FileSystemStorage")
            from boto3.s3.transfer import TransferConfig
            from storages.backends.s3 import S3Storage

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

    def warm_up(self) -> None:
        """Imports, clients and the first connection, outside the measured part."""
        if self.name == "minio-sdk":
            self.client.bucket_exists(bucket_name=BUCKET)
        else:
            self.storage.exists("warm-up")

    def upload(self, path: str, name: str) -> str:
        if self.name == "minio-sdk":
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
        if self.name == "minio-sdk":
            response = self.client.get_object(bucket_name=BUCKET, object_name=name)
            try:
                for chunk in response.stream(MiB):
                    total += len(chunk)
            finally:
                response.close()
                response.release_conn()
            return total
        with self.storage.open(name, "rb") as handle:
            for chunk in handle.chunks(chunk_size=MiB):
                total += len(chunk)
        return total


def child(arguments: argparse.Namespace) -> None:
    library = _Library(arguments.child, arguments.endpoint, arguments.access_key, arguments.secret_key)
    files = json.loads(arguments.files)
    library.warm_up()
    names: list[str] = []
    upload_s, upload_rss = _measure(lambda: names.extend(library.upload(path, name) for path, name in files))
    sizes: list[int] = []
    download_s, download_rss = _measure(lambda: sizes.extend(library.download(name) for name in names))
    expected = [os.path.getsize(path) for path, _ in files]
    if sizes != expected:
        raise SystemExit(f"{arguments.child}: read back {sizes}, expected {expected}")
    print(json.dumps({"upload_s": upload_s, "upload_rss": upload_rss, "download_s": download_s,
                      "download_rss": download_rss}))  # fmt: skip


# -- parent side -------------------------------------------------------------------------------------
def _install(target: Path, marker: str, requirement: str) -> bool:
    if (target / marker).exists():
        return True
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), requirement]
    return subprocess.run(command, check=False).returncode == 0


def _previous_path() -> str | None:
    """PYTHONPATH for the previous release and the SDK version it pins (each in its own directory)."""
    release = _install(PREVIOUS_DIR, "django_minio_backend/models.py", f"django-minio-backend=={PREVIOUS_VERSION}")
    sdk = _install(PREVIOUS_SDK_DIR, "minio/api.py", PREVIOUS_SDK)
    return f"{PREVIOUS_DIR}{os.pathsep}{PREVIOUS_SDK_DIR}" if release and sdk else None


def _available(library: str) -> bool:
    if library == "django-storages":
        probe = "import storages.backends.s3, boto3"
        return subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True).returncode == 0
    if library == "previous":
        return _previous_path() is not None
    return True


def _make_files(directory: Path, scenario: str) -> list[str]:
    count, size = SCENARIOS[scenario]
    paths = []
    for index in range(count):
        path = directory / f"{scenario}-{index}.bin"
        if not path.exists():
            with path.open("wb") as out:
                for _ in range(size // MiB):
                    out.write(os.urandom(MiB))
        paths.append(str(path))
    return paths


def _run_child(library: str, server: Any, files: list[tuple[str, str]]) -> dict[str, float]:
    environment = dict(os.environ)
    # The script's own directory (perf/) comes first on sys.path, never the project root, so the previous
    # release's module of the same name is what `import django_minio_backend` finds in its child.
    environment["PYTHONPATH"] = (_previous_path() or "") if library == "previous" else str(ROOT)
    command = [
        sys.executable, __file__, "--child", library, "--endpoint", server.endpoint,
        "--access-key", server.access_key, "--secret-key", server.secret_key, "--files", json.dumps(files),
    ]  # fmt: skip
    done = subprocess.run(command, env=environment, cwd=tempfile.gettempdir(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{library} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _clear(client: Any, prefix: str) -> None:
    from minio.deleteobjects import DeleteObject

    names = [DeleteObject(item.object_name) for item in client.list_objects(bucket_name=BUCKET, prefix=prefix,
                                                                            recursive=True)]  # fmt: skip
    for error in client.remove_objects(bucket_name=BUCKET, delete_object_list=names):
        raise RuntimeError(f"cleanup failed: {error}")


def _rows(results: dict[str, dict[str, dict[str, float]]], scenario: str) -> Iterator[str]:
    count, size = SCENARIOS[scenario]
    total_mb = count * size / 1e6
    yield f"\n{count} x {size // MiB} MiB   (upload MB/s, peak RSS growth MiB | download MB/s, peak RSS growth MiB)"
    for library, found in results.items():
        if scenario in found:
            row = found[scenario]
            yield (
                f"  {library:16} up {total_mb / row['upload_s']:7.1f} MB/s {row['upload_rss']:7.1f} MiB"
                f"   | down {total_mb / row['download_s']:7.1f} MB/s {row['download_rss']:7.1f} MiB"
            )
    ours = results.get("ours", {}).get(scenario)
    others = [found[scenario] for library, found in results.items() if library != "ours" and scenario in found]
    if ours and others:
        best_up = min(row["upload_s"] for row in others)
        best_down = min(row["download_s"] for row in others)
        yield (
            f"  ours / best other: upload {best_up / ours['upload_s']:.2f}x, "
            f"download {best_down / ours['download_s']:.2f}x"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--child")
    parser.add_argument("--endpoint")
    parser.add_argument("--access-key")
    parser.add_argument("--secret-key")
    parser.add_argument("--files")
    arguments = parser.parse_args(argv)
    if arguments.child:
        child(arguments)
        return

    from minio import Minio

    from tests.servers import start_seaweedfs

    libraries = [name for name in arguments.libraries.split(",") if _available(name)]
    scenarios = arguments.only.split(",")
    server = start_seaweedfs()
    results: dict[str, dict[str, dict[str, float]]] = {library: {} for library in libraries}
    try:
        admin = Minio(endpoint=server.endpoint, access_key=server.access_key, secret_key=server.secret_key,
                      secure=False)  # fmt: skip
        admin.make_bucket(bucket_name=BUCKET)
        with tempfile.TemporaryDirectory(prefix="perf-transfer-") as directory:
            for scenario in scenarios:
                paths = _make_files(Path(directory), scenario)
                for run in range(arguments.repeat):
                    for library in libraries:  # interleaved, so drift in the machine's load hits all alike
                        prefix = f"{library}/{scenario}/{run}/"
                        files = [(path, f"{prefix}{index}.bin") for index, path in enumerate(paths)]
                        row = _run_child(library, server, files)
                        kept = results[library].setdefault(scenario, row)
                        for key, value in row.items():  # fastest time, and the highest memory seen
                            kept[key] = min(kept[key], value) if key.endswith("_s") else max(kept[key], value)
                        _clear(admin, prefix)
                    server.vacuum()
        print(f"perf.transfer: SeaweedFS 4.48 on loopback, {PART // MiB} MiB parts, {WORKERS} workers, "
              f"best of {arguments.repeat}")  # fmt: skip
        for scenario in scenarios:
            for line in _rows(results, scenario):
                print(line)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
