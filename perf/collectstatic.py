"""collectstatic benchmark: requests and wall time of a first run and an unchanged re-run.

    python -m perf.collectstatic [--files 200] [--repeat 3]

Every run is a process of its own (as in a deploy) against one SeaweedFS started here, into a fresh
public bucket per backend and repeat. Requests are every HTTP request the storage's client sent
(our CountingPoolManager as MINIO_HTTP_CLIENT, or botocore's HTTP session for django-storages).
Times are the median of the repeats of `call_command("collectstatic")` inside that process. The
previous release (django-minio-backend 4.4.4, same module name) is loaded in its process from a
separate directory with the minio SDK it pins, both installed there with pip when missing;
django-storages runs when installed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PREVIOUS_RELEASE = ("django-minio-backend==4.4.4", "minio==7.2.19")  # it pins minio 7.2.19, whose API differs
PREVIOUS_DIR = Path(os.environ.get("PERF_PREVIOUS_RELEASE_DIR", Path(tempfile.gettempdir()) / "dmb-prev-4.4.4"))

OURS_FIRST = ("django_minio_backend", "django.contrib.staticfiles")  # our collectstatic wins
DJANGO_FIRST = ("django.contrib.staticfiles", "django_minio_backend")  # Django's collectstatic wins


@dataclass(frozen=True)
class Backend:
    label: str
    kind: str  # "ours", "previous" or "storages"
    storage: str
    apps: tuple[str, ...]


STATIC = "django_minio_backend.models.MinioBackendStatic"
MANIFEST = "django_minio_backend.models.MinioManifestStaticStorage"
S3_STATIC = "storages.backends.s3.S3StaticStorage"
S3_MANIFEST = "storages.backends.s3.S3ManifestStaticStorage"
STATICFILES_ONLY = ("django.contrib.staticfiles",)

BACKENDS = (
    Backend("ours, Django's collectstatic", "ours", STATIC, DJANGO_FIRST),
    Backend("ours, our collectstatic (parallel)", "ours", STATIC, OURS_FIRST),
    Backend("ours manifest, our collectstatic", "ours", MANIFEST, OURS_FIRST),
    Backend("previous release 4.4.4", "previous", STATIC, DJANGO_FIRST),
    Backend("django-storages S3StaticStorage", "storages", S3_STATIC, STATICFILES_ONLY),
    Backend("django-storages S3ManifestStaticStorage", "storages", S3_MANIFEST, STATICFILES_ONLY),
)
BASELINE = "django-storages S3StaticStorage"


@dataclass
class Run:
    seconds: float
    requests: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.requests.values())


# -- the child process: one collectstatic run ------------------------------------------------------


def _storage_options(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["kind"] == "storages":
        return {
            "bucket_name": spec["bucket"],
            "endpoint_url": f"http://{spec['endpoint']}",
            "access_key": spec["access_key"],
            "secret_key": spec["secret_key"],
            "region_name": "us-east-1",
            "addressing_style": "path",
            "signature_version": "s3v4",
            "file_overwrite": True,
        }
    from tests.counting import CountingPoolManager

    return {
        "MINIO_ENDPOINT": spec["endpoint"],
        "MINIO_ACCESS_KEY": spec["access_key"],
        "MINIO_SECRET_KEY": spec["secret_key"],
        "MINIO_USE_HTTPS": False,
        "MINIO_STATIC_FILES_BUCKET": spec["bucket"],
        "MINIO_HTTP_CLIENT": CountingPoolManager(maxsize=10),  # as many connections as our own pool keeps
    }


def _count_botocore_requests() -> Callable[[], dict[str, int]]:
    """Count at botocore's HTTP layer, which every django-storages request passes (the manifest read included)."""
    from botocore.httpsession import URLLib3Session  # type: ignore[import-untyped]

    seen: Counter[str] = Counter()
    send = URLLib3Session.send

    def counting_send(self: URLLib3Session, request: Any) -> Any:
        seen["LIST" if "list-type=2" in request.url else request.method] += 1
        return send(self, request)

    URLLib3Session.send = counting_send
    return lambda: dict(seen)


def child(spec: dict[str, Any]) -> Run:
    if spec["kind"] == "previous":
        sys.path.insert(0, spec["previous_dir"])  # before anything imports django_minio_backend
    import django
    from django.conf import settings
    from django.core.management import call_command

    options = _storage_options(spec)
    settings.configure(
        SECRET_KEY="perf",
        USE_TZ=True,
        INSTALLED_APPS=spec["apps"],
        STATIC_URL="/static/",
        STATICFILES_DIRS=[spec["sources"]],
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": spec["storage"], "OPTIONS": options},
        },
        LOGGING_CONFIG=None,
    )
    count: Callable[[], dict[str, int]]
    if spec["kind"] == "storages":
        count = _count_botocore_requests()
    else:
        pool = options["MINIO_HTTP_CLIENT"]
        count = lambda: dict(Counter("LIST" if "list-type=2" in url else method for method, url in pool.requests))  # noqa: E731
    django.setup()
    started = time.perf_counter()
    call_command("collectstatic", interactive=False, verbosity=0)
    return Run(seconds=time.perf_counter() - started, requests=count())


# -- the parent: server, sources, table --------------------------------------------------------------


def previous_release_dir() -> Path | None:
    if (PREVIOUS_DIR / "django_minio_backend" / "models.py").exists() and (PREVIOUS_DIR / "minio").exists():
        return PREVIOUS_DIR
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(PREVIOUS_DIR)]
    result = subprocess.run([*command, *PREVIOUS_RELEASE], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"(previous release not measured: pip failed: {result.stderr.strip()[-300:]})")
        return None
    return PREVIOUS_DIR


def storages_installed() -> bool:
    try:
        import boto3  # type: ignore[import-untyped]  # noqa: F401
        import storages  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


def run_child(spec: dict[str, Any]) -> Run:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-m", "perf.collectstatic", "--child", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{spec['label']} failed:\n{result.stderr[-3000:]}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return Run(seconds=found["seconds"], requests=found["requests"])


def _fresh_bucket(admin: Any) -> str:
    from django_minio_backend.policies import public_read_policy, set_policy

    bucket = f"perf-{uuid.uuid4().hex[:12]}"
    admin.make_bucket(bucket_name=bucket)
    set_policy(admin, bucket, public_read_policy(bucket))
    # SeaweedFS allocates a new bucket's volume on its first write; concurrent first writes then stall for
    # about a second. One write beforehand keeps that artefact of the test server out of every backend's time.
    admin.put_object(bucket_name=bucket, object_name="warm-up", data=io.BytesIO(b"x"), length=1)
    admin.remove_object(bucket_name=bucket, object_name="warm-up")
    return bucket


def measure(files: int, repeat: int) -> dict[str, tuple[list[Run], list[Run]]]:
    from minio import Minio

    from tests.collecting import write_css_files
    from tests.servers import start_seaweedfs

    backends = [backend for backend in BACKENDS if backend.kind != "storages" or storages_installed()]
    previous = previous_release_dir()
    backends = [backend for backend in backends if backend.kind != "previous" or previous is not None]
    results: dict[str, tuple[list[Run], list[Run]]] = {backend.label: ([], []) for backend in backends}
    server = start_seaweedfs()
    try:
        admin = Minio(
            endpoint=server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False
        )
        with tempfile.TemporaryDirectory(prefix="perf-static-") as sources:
            write_css_files(Path(sources), files)
            for _ in range(repeat):
                for backend in backends:
                    spec = {
                        "label": backend.label,
                        "kind": backend.kind,
                        "storage": backend.storage,
                        "apps": list(backend.apps),
                        "endpoint": server.endpoint,
                        "access_key": server.access_key,
                        "secret_key": server.secret_key,
                        "bucket": _fresh_bucket(admin),
                        "sources": sources,
                        "previous_dir": str(previous or ""),
                    }
                    first, again = results[backend.label]
                    first.append(run_child(spec))
                    again.append(run_child(spec))
    finally:
        server.stop()
    return results


def _requests(runs: list[Run]) -> str:
    worst = max(runs, key=lambda run: run.total)
    detail = ", ".join(f"{count} {kind}" for kind, count in sorted(worst.requests.items(), key=lambda kv: -kv[1]))
    return f"{worst.total} ({detail})" if detail else "0"


def table(results: dict[str, tuple[list[Run], list[Run]]], files: int, repeat: int) -> str:
    def median(runs: list[Run]) -> float:
        return statistics.median(run.seconds for run in runs)

    base = results.get(BASELINE)
    lines = [
        f"collectstatic, {files} CSS files, local SeaweedFS, median of {repeat} runs; ratio = time / {BASELINE}'s",
        "",
        "| backend | first run: requests | time | ratio | unchanged re-run: requests | time | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, (first, again) in results.items():
        ratios = ["", ""]
        if base is not None:
            ratios = [f"{median(first) / median(base[0]):.2f}", f"{median(again) / median(base[1]):.2f}"]
        lines.append(
            f"| {label} | {_requests(first)} | {median(first):.2f} s | {ratios[0]} "
            f"| {_requests(again)} | {median(again):.2f} s | {ratios[1]} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m perf.collectstatic", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run = child(json.loads(args.child))
        print(json.dumps({"seconds": run.seconds, "requests": run.requests}))
        return
    print(table(measure(args.files, args.repeat), args.files, args.repeat))


if __name__ == "__main__":
    main()
