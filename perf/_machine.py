"""The machine a run happened on, written into its JSON: figures are only comparable on like machines."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = (
    "django-minio-backend",
    "Django",
    "minio",
    "urllib3",
    "msgspec",
    "redis",
    "django-storages",
    "boto3",
    "botocore",
    "matplotlib",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _output(command: list[str], cwd: Path | None = None) -> str | None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _server_version() -> str | None:
    from tests.servers import weed_binary

    try:
        found = _output([weed_binary(), "version"])
    except RuntimeError:
        return None
    return found.splitlines()[0] if found else None


def machine(root: Path) -> dict[str, Any]:
    commit = _output(["git", "rev-parse", "HEAD"], cwd=root)
    dirty = _output(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root)
    memory_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "server": _server_version(),
        "git_commit": commit,
        "git_dirty": bool(dirty),
        "load_average": list(os.getloadavg()),
    }
