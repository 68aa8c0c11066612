"""Create every configured bucket and give it its policy, for all MinIO storage aliases; or only say what
would change (`--dry-run`), failing when something would (`--check`, for CI)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...bucket_plan import plan
from ...bucket_setup import initialize_buckets


class Command(BaseCommand):
    help = (
        "Create missing MinIO buckets of every MinIO storage alias, give public buckets (and the static bucket) "
        "an anonymous read-only policy, remove it from private buckets, apply MINIO_POLICY_HOOKS, and give each "
        "bucket a lifecycle rule aborting multipart uploads left incomplete for a day (where the server supports it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--silenced", action="store_true", help="Print nothing unless something fails.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only read: print what a run would create or change (policy differences included), change nothing.",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Like --dry-run, and exit with status 1 when any bucket differs from the settings.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check: bool = options["check"]
        dry_run: bool = options["dry_run"] or check
        reports = initialize_buckets(plan(), dry_run=dry_run)
        failed = [report for report in reports if report.error is not None]
        for report in reports:
            if report.error is not None:
                self.stderr.write(report.describe())
            elif not options["silenced"] and options["verbosity"] > 0:
                self.stdout.write(report.describe())
        if failed:
            names = ", ".join(report.target.bucket for report in failed)
            raise CommandError(f"initialize_buckets failed for {len(failed)} bucket(s): {names}")
        differing = [report.target.bucket for report in reports if report.differs]
        if check and differing:
            raise CommandError(
                f"{len(differing)} bucket(s) differ from the settings: {', '.join(differing)}; "
                "run initialize_buckets to bring them in line."
            )
