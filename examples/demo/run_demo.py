"""End-to-end demo: start an embedded S3 server, initialise buckets, upload through a FileField, fetch it back,
and upload with a presigned POST, the way a browser uploads without going through Django."""

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
            direct_upload(photo.image.storage)
            print("Demo finished: upload, URL, download and direct upload all worked.")
    finally:
        server.stop()
    return 0


def direct_upload(storage: object) -> None:
    """What a page does with a direct-upload ticket: an HTML form POST straight to the bucket."""
    import urllib3

    from django_minio_backend import MinioBackend

    assert isinstance(storage, MinioBackend)
    post = storage.presigned_post("direct/hello.txt", max_size=1024, content_type="text/plain")
    fields = [*post.fields.items(), ("file", ("hello.txt", b"Posted straight to the bucket\n"))]
    response = urllib3.request("POST", post.url, fields=fields)
    print(f"Direct upload: a form POST to {post.url} answered {response.status}; the policy allows exactly")
    print("  direct/hello.txt, 1 to 1024 bytes, text/plain, for MINIO_URL_EXPIRY_HOURS")
    too_big = urllib3.request("POST", post.url, fields=[*post.fields.items(), ("file", ("big.txt", b"x" * 2000))])
    print(f"  a 2000-byte file is refused by the server: {too_big.status}")
    with storage.open("direct/hello.txt") as stored:
        print(f"  read back: {stored.read().decode().strip()!r}")
    print("  The widget page for browsers: python examples/direct_upload/run.py (user demo / demo)")


if __name__ == "__main__":
    raise SystemExit(main())
