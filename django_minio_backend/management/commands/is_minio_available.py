"""Report whether the server of every MinIO storage alias answers, and why not when it does not."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...aliases import minio_aliases
from ...storage import MinioBackend


class Command(BaseCommand):
    help = "Check that the MinIO/S3 server of every MinIO storage alias is available; exits 1 if one is not."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--silenced", action="store_true", help="Print nothing unless a server is unavailable.")

    def handle(self, *args: Any, **options: Any) -> None:
        unavailable: list[str] = []
        for alias in minio_aliases():
            storage = cast(MinioBackend, storages[alias])  # minio_aliases() lists only our backends
            try:
                endpoint = storage.settings.endpoint
            except ImproperlyConfigured as exc:  # this command starts despite bad settings, to report them
                self.stderr.write(f"[{alias}] UNAVAILABLE: configuration error: {exc}")
                unavailable.append(alias)
                continue
            status = storage.is_minio_available()
            if status:
                if not options["silenced"] and options["verbosity"] > 0:
                    self.stdout.write(f"[{alias}] available at {endpoint}: {status.details}")
            else:
                self.stderr.write(f"[{alias}] UNAVAILABLE at {endpoint}: {status.details}")
                unavailable.append(alias)
        if unavailable:
            raise CommandError(f"MinIO is not available for: {', '.join(unavailable)}")
