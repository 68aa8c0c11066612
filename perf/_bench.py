"""What a topic gets to work with: the run's mode and results, one SeaweedFS for all topics, a redis-server
when asked for, and the peers (the previous release, django-storages) where they can be had.

Every topic module has `TOPIC` (its name) and `run(bench)`; `python -m perf` runs them in turn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from perf._results import Results

if TYPE_CHECKING:
    from tests.servers import RedisServer, S3Server

ROOT = Path(__file__).resolve().parent.parent
PREVIOUS_VERSION = "4.4.4"
# The previous release and the minio SDK it pins (7.2.20 dropped the put_object(headers=...) it passes), both
# installed with --no-deps into one directory: it shares our module name, so only child processes whose
# PYTHONPATH starts there ever import it.
PREVIOUS_REQUIREMENTS = (f"django-minio-backend=={PREVIOUS_VERSION}", "minio==7.2.19")
PREVIOUS_DIR = Path(os.environ.get("PERF_PREVIOUS_DIR", Path(tempfile.gettempdir()) / f"perf-dmb-{PREVIOUS_VERSION}"))
PREVIOUS = f"previous {PREVIOUS_VERSION}"  # the library label of the previous release in figures
T = TypeVar("T")


@dataclass
class Bench:
    quick: bool
    results: Results
    server: S3Server
    workdir: Path
    _redis: RedisServer | None = field(default=None, repr=False)

    def pick(self, full: T, quick: T) -> T:
        """The full-run value, or the --quick one."""
        return quick if self.quick else full

    def redis_url(self) -> str:
        if self._redis is None:
            from tests.servers import start_redis

            self._redis = start_redis()
        return self._redis.url

    def stop(self) -> None:
        if self._redis is not None:
            self._redis.stop()


@cache
def previous_release() -> Path | str:
    """The directory holding the previous release and its SDK, or why it is not there."""
    if (PREVIOUS_DIR / "django_minio_backend" / "models.py").exists() and (PREVIOUS_DIR / "minio" / "api.py").exists():
        return PREVIOUS_DIR
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(PREVIOUS_DIR)]
    done = subprocess.run([*command, *PREVIOUS_REQUIREMENTS], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"not measured: pip install {' '.join(PREVIOUS_REQUIREMENTS)} failed: {done.stderr.strip()[-300:]}"
    return PREVIOUS_DIR


@cache
def storages_installed() -> bool:
    """django-storages with boto3 (the `bench` extra)."""
    probe = "import storages.backends.s3, boto3"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, check=False).returncode == 0


def child_json(
    command: list[str], *, env: dict[str, str], cwd: str | Path, label: str, timeout: float | None = None
) -> Any:
    """Run a child process and return the JSON object on the last line of its output."""
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{label} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def clean_env(pythonpath: str) -> dict[str, str]:
    """The environment for a child: our PYTHONPATH, no settings module inherited from the caller."""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env
