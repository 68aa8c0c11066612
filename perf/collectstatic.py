"""collectstatic: requests and wall time of a first run and an unchanged re-run, at one size for every
backend, and against the number of files (100 ... 5,000) for ours, the previous release and django-storages.

    python -m perf.collectstatic [--quick] [--json PATH]

Every run is a process of its own (as in a deploy), into a fresh public bucket per backend, size and
repeat. Requests are every HTTP request the storage's client sent (our CountingPoolManager as
MINIO_HTTP_CLIENT, or botocore's HTTP session for django-storages). Times are the median of the repeats
of `call_command("collectstatic")` inside that process. The previous release (django-minio-backend
4.4.4, same module name) is loaded in its process from a separate directory with the minio SDK it pins.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perf._bench import PREVIOUS, child_json, clean_env, previous_release, storages_installed
from perf._results import OURS

if TYPE_CHECKING:
    from perf._bench import Bench

TOPIC = "collectstatic"
ROOT = Path(__file__).resolve().parent.parent

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
# The curve: the parallel collectstatic of ours against each peer's plain one.
CURVE = {OURS: "ours, our collectstatic (parallel)", PREVIOUS: "previous release 4.4.4", "django-storages": BASELINE}
VARIANTS = {  # the case of the other backends' figures; the manifest storages are compared with each other
    "ours, Django's collectstatic": ", ours with Django's collectstatic",
    "ours manifest, our collectstatic": ", manifest storage",
    "django-storages S3ManifestStaticStorage": ", manifest storage",
}


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


# -- the parent: sources, buckets, figures -----------------------------------------------------------


def run_child(spec: dict[str, Any]) -> Run:
    found = child_json(
        [sys.executable, "-m", "perf.collectstatic", "--child", json.dumps(spec)],
        env=clean_env(str(ROOT)),
        cwd=ROOT,
        label=spec["label"],
    )
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


def _measure(
    bench: Bench, admin: Any, backends: Sequence[Backend], files: int, repeat: int
) -> dict[str, tuple[list[Run], list[Run]]]:
    """First and unchanged runs of each backend, `repeat` times, interleaved, over `files` source files."""
    from tests.collecting import write_css_files

    previous = previous_release()
    sources = bench.workdir / f"static-{files}"
    if not sources.exists():
        write_css_files(sources, files)
    results: dict[str, tuple[list[Run], list[Run]]] = {backend.label: ([], []) for backend in backends}

    def both_runs(backend: Backend) -> None:
        spec = {
            "label": backend.label,
            "kind": backend.kind,
            "storage": backend.storage,
            "apps": list(backend.apps),
            "endpoint": bench.server.endpoint,
            "access_key": bench.server.access_key,
            "secret_key": bench.server.secret_key,
            "bucket": _fresh_bucket(admin),
            "sources": str(sources),
            "previous_dir": str(previous),
        }
        first, again = results[backend.label]
        first.append(run_child(spec))
        again.append(run_child(spec))

    # --quick only checks that everything runs: its backends run side by side, to finish sooner.
    with ThreadPoolExecutor(max_workers=bench.pick(1, 3)) as pool:
        for _ in range(repeat):
            list(pool.map(both_runs, backends))
    return results


def _median(runs: list[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


def _worst_requests(runs: list[Run]) -> Run:
    return max(runs, key=lambda run: run.total)


def _library(backend: Backend) -> str:
    """Figures of one case compare libraries: our variants are named in the case, a peer is its library."""
    return {"ours": OURS, "previous": PREVIOUS, "storages": "django-storages"}[backend.kind]


def run(bench: Bench) -> None:
    from minio import Minio

    results = bench.results
    previous = previous_release()
    backends = [backend for backend in BACKENDS if backend.kind != "storages" or storages_installed()]
    if not storages_installed():
        results.note(TOPIC, "django-storages not installed (pip install -e '.[bench]'): not measured")
    if isinstance(previous, str):
        results.note(TOPIC, f"{PREVIOUS}: {previous}")
        backends = [backend for backend in backends if backend.kind != "previous"]
    admin = Minio(
        endpoint=bench.server.endpoint,
        access_key=bench.server.access_key,
        secret_key=bench.server.secret_key,
        secure=False,
    )

    files, repeat = bench.pick((200, 3), (5, 1))
    table = _measure(bench, admin, backends, files, repeat)
    for backend in backends:
        first, again = table[backend.label]
        library = _library(backend)
        variant = VARIANTS.get(backend.label, "")
        for run_label, runs in (("first run", first), ("unchanged re-run", again)):
            case = f"{files} files, {run_label}{variant}"
            results.add(TOPIC, case, "time", library, _median(runs), "s", "lower")
            worst = _worst_requests(runs)
            results.add(TOPIC, case, "all", library, worst.total, "requests", "lower")
            for kind, count in sorted(worst.requests.items()):
                results.add(TOPIC, case, kind, library, count, "requests", "lower")
    results.note(TOPIC, f"median of {repeat} runs each; requests: the most any run sent")

    curve_backends = [backend for backend in backends if backend.label in CURVE.values()]
    sizes = bench.pick([100, 200, 500, 1_000, 2_000, 5_000], [5, 20])
    curves = {
        (run_label, metric): results.curve(
            TOPIC, f"collectstatic {run_label}: {metric}", "files", metric, unit, per="files"
        )
        for run_label in ("first run", "unchanged re-run")
        for metric, unit in (("time", "s"), ("requests", "requests"))
    }
    for size in sizes:
        found = table if size == files else _measure(bench, admin, curve_backends, size, 1)
        for backend in curve_backends:
            library = _library(backend)
            for run_label, runs in zip(("first run", "unchanged re-run"), found[backend.label], strict=True):
                curves[(run_label, "time")].add(library, size, _median(runs))
                curves[(run_label, "requests")].add(library, size, _worst_requests(runs).total)
                if run_label == "unchanged re-run":
                    for kind, count in _worst_requests(runs).requests.items():
                        results.curve(
                            TOPIC,
                            f"collectstatic unchanged re-run: {kind} requests",
                            "files",
                            "requests",
                            kind,
                            per="files",
                        ).add(library, size, count)


def main(argv: Sequence[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--child"]:
        run = child(json.loads(arguments[1]))
        print(json.dumps({"seconds": run.seconds, "requests": run.requests}))
        return
    from perf.__main__ import topic_main

    topic_main(TOPIC, arguments)


if __name__ == "__main__":
    main()
