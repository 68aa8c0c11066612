"""End-to-end demo: start an embedded S3 server, initialise buckets, upload through a FileField, fetch it back."""

from __future__ import annotations

import os
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.servers import start_seaweedfs  # noqa: E402 - after the path set-up


def main() -> int:
    server = start_seaweedfs()
    print(f"Embedded S3 server (SeaweedFS) listening on {server.endpoint}")
    try:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="examples.demo.demo_project.settings",
            DEMO_MINIO_ENDPOINT=server.endpoint,
            DEMO_MINIO_ACCESS_KEY=server.access_key,
            DEMO_MINIO_SECRET_KEY=server.secret_key,
        )
        import django
        from django.conf import settings

        with tempfile.TemporaryDirectory() as workdir:
            settings.DATABASES["default"]["NAME"] = str(Path(workdir) / "demo.sqlite3")
            django.setup()
            from django.core.files.base import ContentFile
            from django.core.management import call_command

            from examples.demo.gallery.models import Photo, Poster

            call_command("migrate", run_syncdb=True, verbosity=0)
            call_command("initialize_buckets")
            photo = Photo.objects.create(title="hello", image=ContentFile(b"Hello from MinIO!\n", name="hello.txt"))
            poster = Poster.objects.create(image=ContentFile(b"A public poster\n", name="poster.txt"))
            for label, field in (("private", photo.image), ("public", poster.image)):
                print(f"Uploaded {label} object {field.name!r}")
                print(f"  URL: {field.url}")
                with urllib.request.urlopen(field.url, timeout=10) as response:
                    body = response.read()
                print(f"  fetched back {len(body)} bytes: {body.decode().strip()!r}")
            print("Demo finished: upload, URL and download all worked.")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
