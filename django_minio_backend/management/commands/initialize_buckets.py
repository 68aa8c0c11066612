"""Create every configured bucket and give it its policy, for all MinIO storage aliases."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...policies import initialize_buckets, plan


class Command(BaseCommand):
    help = (
        "Create missing MinIO buckets of every MinIO storage alias, give public buckets (and the static bucket) "
        "an anonymous read-only policy, remove it from private buckets, apply MINIO_POLICY_HOOKS, and give each "
        "bucket a lifecycle rule aborting multipart uploads left incomplete for a day (where the server supports it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--silenced", action="store_true", help="Print nothing unless something fails.")

    def handle(self, *args: Any, **options: Any) -> None:
        reports = initialize_buckets(plan())
        failed = [report for report in reports if report.error is not None]
        for report in reports:
            if report.error is not None:
                self.stderr.write(report.describe())
            elif not options["silenced"] and options["verbosity"] > 0:
                self.stdout.write(report.describe())
        if failed:
            names = ", ".join(report.target.bucket for report in failed)
            raise CommandError(f"initialize_buckets failed for {len(failed)} bucket(s): {names}")
