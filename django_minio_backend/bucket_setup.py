"""Bringing a server's buckets in line with the settings (`initialize_buckets`): each kind of bucket state (the
bucket, its policy, lifecycle rules, CORS rule) compared desired against current as `Change`s, which a run makes
and a dry run describes.

Every bucket an alias manages also gets the lifecycle rule that aborts incomplete multipart uploads
(lifecycle.py), where the server supports it; with MINIO_DIRECT_UPLOAD_PREFIX, a rule expiring staged direct
uploads, and with MINIO_CORS_ALLOWED_ORIGINS, the CORS rule browsers need to upload (cors.py). What each bucket
should be is planned in bucket_plan.py.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from .bucket_plan import BucketTarget
from .bucket_xml import ConfigDocument, ConfigRefused
from .connection import S3Connection, get_client
from .cors import CORS, with_cors_rule
from .lifecycle import LIFECYCLE, with_our_rules
from .policies import get_policy, is_public_read_policy, policy_diff, remove_policy, same_policy, set_policy


# -- changes: each kind of bucket state, desired against current ----------------------------------------
@dataclass(frozen=True)
class Change:
    """One way a bucket differs from the settings: what a run would do (`planned`), what it reports once done
    (`done`), the differences line by line (`details`, e.g. a policy diff) and the call that makes it."""

    planned: str
    done: str
    apply: Callable[[], object]
    details: tuple[str, ...] = ()


def _bucket_change(target: BucketTarget) -> Change | None:
    if get_client(target.settings).bucket_exists(bucket_name=target.bucket):
        return None
    if not target.managed:
        raise LookupError("bucket does not exist; MINIO_POLICY_HOOKS never create buckets, list it in a bucket setting")
    return Change(
        "create",
        "created",
        lambda: get_client(target.settings).make_bucket(bucket_name=target.bucket, location=target.settings.region),
    )


def _policy_changes(target: BucketTarget, exists: bool) -> list[Change]:
    current = get_policy(get_client(target.settings), target.bucket) if exists else None
    wanted = target.wanted_policy
    if wanted is not None:
        if same_policy(current, wanted):
            return []
        planned, done = (
            ("apply policy hook", "policy hook applied")
            if target.hooks
            else ("set public read policy", "public read policy set")
        )
        return [
            Change(
                planned,
                done,
                lambda: set_policy(get_client(target.settings), target.bucket, wanted),
                policy_diff(current, wanted),
            )
        ]
    if current is not None and is_public_read_policy(current, target.bucket, target.prefixes.values()):
        return [
            Change(
                "remove public policy",
                "public policy removed",
                lambda: remove_policy(get_client(target.settings), target.bucket),
                policy_diff(current, None),
            )
        ]
    return []


def _lifecycle_changes(target: BucketTarget, exists: bool) -> list[Change]:
    """A bucket we manage aborts incomplete multipart uploads and expires staged direct uploads; a bucket only
    hooked is someone else's. Every rule changed is listed; one write makes them all (the last change's)."""
    if not target.managed:
        return []
    connection = S3Connection(target.settings)
    found = with_our_rules(_current(LIFECYCLE, connection, target.bucket, exists), target.staging_prefixes)
    if found is None:
        return []
    document, rules = found
    *first, last = rules
    changes = [Change(rule.planned, rule.done, _nothing) for rule in first]
    return [*changes, Change(last.planned, last.done, lambda: LIFECYCLE.write(connection, target.bucket, document))]


def _cors_changes(target: BucketTarget, exists: bool) -> list[Change]:
    """Browsers of the allowed origins may upload into a bucket we manage (nothing is asked without origins)."""
    if not target.managed or not target.cors_origins:
        return []
    connection = S3Connection(target.settings)
    found = with_cors_rule(_current(CORS, connection, target.bucket, exists), target.cors_origins)
    if found is None:
        return []
    document, done = found
    origins = ", ".join(target.cors_origins)
    verb = {"added": "add", "updated": "update"}[done]
    return [
        Change(
            f"{verb} CORS rule (uploads from {origins})",
            f"CORS rule {done} (uploads from {origins})",
            lambda: CORS.write(connection, target.bucket, document),
        )
    ]


def _current(kind: ConfigDocument, connection: S3Connection, bucket: str, exists: bool) -> ET.Element:
    """The bucket's document of this kind; a bucket still to be created has none, and is not asked."""
    return kind.read(connection, bucket) if exists else kind.empty()


def _nothing() -> None:
    """A change made by another change's call (rules of one document are written together)."""


# The state of an existing (or just created) bucket, one unit per kind: each compares what the settings want
# with what the server has (`exists` False: the bucket is still to be created, so nothing is asked).
STATE_CHANGES: tuple[Callable[[BucketTarget, bool], list[Change]], ...] = (
    _policy_changes,
    _lifecycle_changes,
    _cors_changes,
)
# What a note says when the server refuses a kind of configuration (ConfigRefused.resource)
REFUSED_NOTES: Final = {
    "lifecycle": "lifecycle rule not set, the server refuses it ({code})",
    "cors": "CORS rule not set, the server refuses it ({code}); see the README on CORS",
}


# -- applying ---------------------------------------------------------------------------------------
@dataclass
class BucketReport:
    target: BucketTarget
    actions: list[str] = field(default_factory=list)  # what this run changed
    notes: list[str] = field(default_factory=list)  # what could not be done, without failing the bucket
    error: str | None = None
    planned: list[Change] = field(default_factory=list)  # a dry run's changes, not made

    @property
    def state(self) -> str:
        if self.target.hooks:
            return "policy from MINIO_POLICY_HOOKS"
        prefixes = self.target.public_prefixes
        if not prefixes:
            return "private"
        state = "public, listable" if self.target.listing else "public"
        return state if prefixes == [""] else f"{state}: {', '.join(prefix + '*' for prefix in prefixes)}"

    @property
    def differs(self) -> bool:
        """The bucket is not (or was not, before this run) as the settings want it."""
        return bool(self.actions or self.planned or self.error is not None)

    def describe(self) -> str:
        where = ", ".join(self.target.aliases)
        if self.error is not None:
            return f"{self.target.bucket} [{where}]: FAILED: {self.error}"
        if self.planned:
            done = "; ".join(f"would {change.planned}" for change in self.planned)
        else:
            done = "; ".join(self.actions) if self.actions else "up to date"
        notes = "".join(f"; {note}" for note in self.notes)
        details = "".join(f"\n    {line}" for change in self.planned for line in change.details)
        return f"{self.target.bucket} [{where}]: {done} ({self.state}){notes}{details}"

    def make(self, change: Change | None, *, dry_run: bool) -> None:
        if change is None:
            return
        if dry_run:
            self.planned.append(change)
            return
        change.apply()
        self.actions.append(change.done)


def initialize_buckets(targets: Sequence[BucketTarget], *, dry_run: bool = False) -> list[BucketReport]:
    """Create every missing bucket first, then give each its policy and lifecycle rule, so a hook always
    finds its bucket. With `dry_run`, only read: each report lists the changes a run would make.

    Idempotent: a run right after another changes nothing. A failure is reported on its bucket and the
    other buckets are still handled.
    """
    reports = [BucketReport(target) for target in targets]
    missing: set[int] = set()
    for index, report in enumerate(reports):
        try:
            change = _bucket_change(report.target)
            if change is not None and dry_run:
                missing.add(index)
            report.make(change, dry_run=dry_run)
        except Exception as exc:  # noqa: BLE001 - reported per bucket by the caller
            report.error = str(exc) or type(exc).__name__
    for index, report in enumerate(reports):
        if report.error is not None:
            continue
        for unit in STATE_CHANGES:
            try:
                for change in unit(report.target, index not in missing):
                    report.make(change, dry_run=dry_run)
            except ConfigRefused as refused:
                report.notes.append(REFUSED_NOTES[refused.resource].format(code=refused.code))
            except Exception as exc:  # noqa: BLE001 - reported per bucket by the caller
                report.error = str(exc) or type(exc).__name__
                break
    return reports
