"""Bring the example project up against an embedded SeaweedFS: shared by run.py and measure.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.servers import free_ports, start_seaweedfs  # noqa: E402 - after the path set-up


@contextmanager
def example_project(workdir: Path, port: int = 0) -> Iterator[int]:
    """SeaweedFS on free ports, Django set up with the example settings (a SQLite file in `workdir`, the page's
    origin allowed by the bucket's CORS rule), migrated, a user `demo` / `demo`, buckets initialised. Yields the
    port the page is to be served on."""
    port = port or free_ports(1)[0]
    server = start_seaweedfs()
    try:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="examples.direct_upload.settings",
            EXAMPLE_MINIO_ENDPOINT=server.endpoint,
            EXAMPLE_MINIO_ACCESS_KEY=server.access_key,
            EXAMPLE_MINIO_SECRET_KEY=server.secret_key,
            EXAMPLE_ORIGIN=f"http://127.0.0.1:{port}",
            EXAMPLE_DB=str(workdir / "example.sqlite3"),
        )
        import django

        django.setup()
        from django.contrib.auth.models import User
        from django.core.management import call_command

        call_command("migrate", run_syncdb=True, verbosity=0)
        User.objects.create_superuser(username="demo", password="demo")
        call_command("initialize_buckets")
        yield port
    finally:
        server.stop()
