"""Delete objects that no FileField row references; optionally report rows whose object is missing.

Progress (objects scanned, orphans found) is one line redrawn on a terminal, a plain line every
`progress_every` objects in a log, and nothing at verbosity 0 (progress.py).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...direct.cleanup import DELETE_BATCH, STAGED_MAX_AGE, StagingSweep, clean_staged, staging_areas
from ...orphans import (
    BucketGroup,
    BucketScan,
    bucket_groups,
    delete_batch,
    format_age,
    iter_orphans,
    parse_age,
    shown,
)
from ...progress import ProgressLine

DEFAULT_AGE = "1h"


def age_argument(text: str) -> timedelta | None:
    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Command(BaseCommand):
    help = (
        "Delete objects in MinIO buckets that no FileField/ImageField row references (per bucket), "
        "and with --check-missing report rows whose object is missing."
    )
    progress_every = 10_000  # objects listed between two progress lines in a log
    progress_interval = 0.1  # seconds between two redraws of the progress line on a terminal
    _line: ProgressLine

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List orphans without deleting anything.")
        parser.add_argument(
            "--check-missing", action="store_true", help="Also report database rows whose object does not exist."
        )
        parser.add_argument(
            "--bucket",
            action="append",
            dest="buckets",
            metavar="NAME",
            help="Only scan this bucket (repeatable).",
        )
        parser.add_argument(
            "--older-than",
            type=age_argument,
            default=parse_age(DEFAULT_AGE),
            metavar="AGE",
            help=(
                "Only delete orphans last modified longer ago than AGE: seconds, or with a unit (90, 30m, 1h, 2d); "
                f"0 disables the limit. Default {DEFAULT_AGE}, so uploads whose database row is not committed yet "
                "are left alone."
            ),
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation (it is only asked when standard input is a terminal).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity: int = options["verbosity"]
        self._line = ProgressLine(
            self.stdout, self.verbosity, terminal_interval=self.progress_interval, log_interval=None
        )
        dry_run: bool = options["dry_run"]
        age: timedelta | None = options["older_than"]
        cutoff = datetime.now(tz=UTC) - age if age is not None else None
        groups = self._select(options["buckets"])
        if not dry_run and options["interactive"] and sys.stdin.isatty():
            self._confirm(groups, age)
        scans = [self._scan(group, cutoff, dry_run=dry_run, check_missing=options["check_missing"]) for group in groups]
        sweeps = self._sweep_staged(options["buckets"], dry_run=dry_run)
        self._summary(scans, age, dry_run=dry_run, check_missing=options["check_missing"])
        failed = [scan.group.bucket for scan in scans if scan.errors] + [s.bucket for s in sweeps if s.errors]
        if failed:
            raise CommandError(f"clean_orphaned_minio_files failed for: {', '.join(failed)}")

    def _say(self, text: str, level: int = 1) -> None:
        if self.verbosity >= level:
            self._line.say(text)

    def _select(self, wanted: list[str] | None) -> list[BucketGroup]:
        groups, skipped = bucket_groups()
        for reason in skipped:
            self._say(f"Skipped bucket {reason}")
        if wanted:
            unknown = sorted(set(wanted) - {group.bucket for group in groups})
            if unknown:
                known = ", ".join(sorted({group.bucket for group in groups})) or "none"
                raise CommandError(f"No MinIO FileField stores into bucket(s) {', '.join(unknown)} (known: {known})")
            groups = [group for group in groups if group.bucket in wanted]
        return groups

    def _confirm(self, groups: list[BucketGroup], age: timedelta | None) -> None:
        buckets = ", ".join(group.bucket for group in groups)
        answer = input(
            f"This deletes every object in {buckets} that no database row references "
            f"({format_age(age)}).\nType 'yes' to continue, or 'no' to cancel: "
        )
        if answer.strip().lower() != "yes":
            raise CommandError("Cancelled; nothing was deleted.")

    def _scan(self, group: BucketGroup, cutoff: datetime | None, *, dry_run: bool, check_missing: bool) -> BucketScan:
        scan = BucketScan(group)
        if group.refusal is not None:  # in dry runs too: the report must show what a real run would do
            scan.errors.append(group.refusal)
            self.stderr.write(group.refusal)
            return scan
        try:
            referenced = group.referenced_keys()  # before listing: rows committed meanwhile are protected by age
        except Exception as exc:  # noqa: BLE001 - reported per bucket, the others still run
            scan.errors.append(f"reading the database for {group.bucket} failed: {exc}")
            self.stderr.write(scan.errors[-1])
            return scan
        scan.referenced = len(referenced)
        fields = ", ".join(ref.label for ref in group.fields)
        self._say(f"Bucket {group.bucket} [{', '.join(group.aliases)}]: {len(referenced)} names referenced by {fields}")
        seen: set[str] | None = set() if check_missing else None
        batch: list[str] = []
        every = 1 if self._line.on_terminal else self.progress_every  # a terminal's line redraws itself in time
        try:
            for name in iter_orphans(scan, referenced, cutoff, seen, self._progress, every):
                self._say(f"Found orphaned file: {group.bucket}/{shown(name)}")
                if not dry_run:
                    batch.append(name)
                    if len(batch) == DELETE_BATCH:
                        self._delete(scan, batch)
                        batch = []
            if batch:
                self._delete(scan, batch)
        except Exception as exc:  # noqa: BLE001 - reported per bucket, the others still run
            scan.errors.append(f"scanning {group.bucket} failed after {scan.listed} objects: {exc}")
        self._line.finish(lambda: _scanned(scan))
        for error in scan.errors:
            self.stderr.write(error)
        if check_missing and seen is not None:
            self._report_missing(scan, referenced - seen)
        return scan

    def _sweep_staged(self, wanted: list[str] | None, *, dry_run: bool) -> list[StagingSweep]:
        """Direct uploads staged more than a day ago and never saved (see orphans.clean_staged)."""
        sweeps = []
        for bucket, prefix, settings in staging_areas():
            if wanted and bucket not in wanted:
                continue
            sweep = clean_staged(bucket, prefix, settings, dry_run=dry_run)
            done = "would be deleted (dry run)" if dry_run else "deleted"
            self._say(
                f"Staged uploads in {bucket}/{prefix}: {len(sweep.stale)} older than {format_age(STAGED_MAX_AGE)} "
                f"{done}, "
                f"{sweep.aborted} unfinished multipart uploads {'would be ' if dry_run else ''}aborted"
            )
            for error in sweep.errors:
                self.stderr.write(error)
            sweeps.append(sweep)
        return sweeps

    def _delete(self, scan: BucketScan, names: list[str]) -> None:
        for name in delete_batch(scan, names):
            self._say(f"Deleted {scan.group.bucket}/{shown(name)} on its own: XML cannot carry its key in a batch")

    def _progress(self, scan: BucketScan) -> None:
        if self._line.on_terminal:
            self._line.update(lambda: _scanned(scan))
        else:
            self._say(f"  ... {scan.group.bucket}: {scan.listed} objects listed, {scan.orphans} orphans so far")

    def _report_missing(self, scan: BucketScan, missing: set[str]) -> None:
        if not scan.complete:
            self.stderr.write(f"Missing files in {scan.group.bucket} not checked: the listing did not finish")
            return
        scan.missing = len(missing)
        if not missing:
            return
        for ref in scan.group.fields:
            for pk, name in ref.rows_referencing(missing):
                self._say(
                    f"Missing file in MinIO: {scan.group.bucket}/{shown(ref.keys.stored_key(name))} referenced by "
                    f"{ref.model._meta.label} (id={pk}, field={ref.field.name})"
                )

    def _summary(self, scans: list[BucketScan], age: timedelta | None, *, dry_run: bool, check_missing: bool) -> None:
        orphans = sum(scan.orphans for scan in scans)
        done = f"{orphans} would be deleted (dry run)" if dry_run else f"{sum(s.deleted for s in scans)} deleted"
        parts = [
            f"{len(scans)} bucket(s) scanned",
            f"{sum(scan.listed for scan in scans)} objects listed",
            f"{sum(scan.referenced for scan in scans)} names referenced",
            f"{orphans} orphans found, {done}",
        ]
        if age is not None:
            parts.append(f"{sum(scan.recent for scan in scans)} unreferenced but newer than {format_age(age)} kept")
        if check_missing:
            parts.append(f"{sum(scan.missing for scan in scans)} missing files referenced")
        failed = sum(1 for scan in scans if scan.errors)
        if failed:
            parts.append(f"{failed} bucket(s) failed")
        style = self.style.ERROR if failed else self.style.SUCCESS
        self.stdout.write(style("Summary: " + "; ".join(parts)))


def _scanned(scan: BucketScan) -> str:
    return f"{scan.group.bucket}: {scan.listed} objects scanned, {scan.orphans} orphans found"
