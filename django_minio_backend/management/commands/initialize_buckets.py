"""Create every configured bucket and apply its policy, for each MinIO storage alias."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...client import get_client
from ...policies import initialize_buckets
from ...settings import get_settings, minio_aliases


class Command(BaseCommand):
    help = "Create missing MinIO buckets and apply public/private policies and MINIO_POLICY_HOOKS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--silenced", action="store_true", help="Print nothing unless something fails.")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = []
        for alias in minio_aliases():
            settings = get_settings(alias)
            try:
                report = initialize_buckets(get_client(settings), settings)
            except Exception as exc:  # noqa: BLE001 - reported per alias, then the command fails
                self.stderr.write(f"[{alias}] failed: {exc}")
                failed.append(alias)
                continue
            if not options["silenced"]:
                for line in report or ["buckets already up to date"]:
                    self.stdout.write(f"[{alias}] {line}")
        if failed:
            raise CommandError(f"initialize_buckets failed for: {', '.join(failed)}")
