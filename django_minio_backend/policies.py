"""Bucket policies, and bringing a server's buckets in line with the settings (`initialize_buckets`).

Every bucket an alias manages also gets the lifecycle rule that aborts incomplete multipart uploads
(lifecycle.py), where the server supports it; with MINIO_DIRECT_UPLOAD_PREFIX, a rule expiring staged direct
uploads, and with MINIO_CORS_ALLOWED_ORIGINS, the CORS rule browsers need to upload (cors.py).

Which alias manages which bucket:

- a media alias (`MinioBackend`) manages its private buckets, public buckets and default bucket;
- a static alias (`MinioBackendStatic`) manages only its static files bucket, which is always public.

A media alias's MINIO_STATIC_FILES_BUCKET is left to the static alias, so a project that serves static
files some other way never gets an unused public bucket. Buckets are identified by (endpoint, name):
aliases sharing a server share its buckets, and each bucket is created and given its policy once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minio import Minio
from minio.error import S3Error

from .aliases import is_static_alias, minio_aliases
from .connection import S3Connection, get_client
from .cors import ConfigRefused, ensure_cors_rule
from .lifecycle import LifecycleRefused, ensure_lifecycle
from .settings import MinioSettings, get_settings

POLICY_VERSION = "2012-10-17"
NO_POLICY_CODES = frozenset({"NoSuchBucketPolicy", "NoSuchPolicy"})
PUBLIC_READ_SID = "DjangoMinioBackendPublicRead"
PUBLIC_LIST_SID = "DjangoMinioBackendPublicList"
_ANONYMOUS_READ_ACTIONS = frozenset({"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"})


def public_read_policy(bucket: str, *, listing: bool = False) -> dict[str, Any]:
    """Anonymous GetObject on every object; anonymous listing only when `listing` (MINIO_BUCKET_LISTING)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": PUBLIC_READ_SID,
            "Effect": "Allow",
            "Principal": {"AWS": ["*"]},
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/*"],
        }
    ]
    if listing:
        statements.append(
            {
                "Sid": PUBLIC_LIST_SID,
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def get_policy(client: Minio, bucket: str) -> dict[str, Any] | None:
    """The bucket's policy document, or None when it has none."""
    try:
        text = client.get_bucket_policy(bucket_name=bucket)
    except S3Error as exc:
        if exc.code in NO_POLICY_CODES:
            return None
        raise
    if not text:
        return None
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def set_policy(client: Minio, bucket: str, policy: dict[str, Any]) -> None:
    client.set_bucket_policy(bucket_name=bucket, policy=json.dumps(policy))


def remove_policy(client: Minio, bucket: str) -> None:
    client.delete_bucket_policy(bucket_name=bucket)


# -- comparing policies ---------------------------------------------------------------------------
def _as_sorted_list(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))


def _normalize_principal(value: Any) -> Any:
    if value == "*":
        return {"AWS": ["*"]}
    if isinstance(value, dict):
        return {kind: _as_sorted_list(ids) for kind, ids in value.items()}
    return value


def _normalize_statement(statement: Any) -> str:
    """One canonical string per statement; the Sid is left out because it grants nothing."""
    if not isinstance(statement, dict):
        return json.dumps(statement, sort_keys=True, default=str)
    canonical: dict[str, Any] = {}
    for key, value in statement.items():
        if key == "Sid":
            continue
        if key in ("Principal", "NotPrincipal"):
            canonical[key] = _normalize_principal(value)
        elif key in ("Action", "NotAction", "Resource", "NotResource"):
            canonical[key] = _as_sorted_list(value)
        elif key == "Condition" and isinstance(value, dict):
            canonical[key] = {
                operator: {name: _as_sorted_list(values) for name, values in (pairs or {}).items()}
                for operator, pairs in value.items()
            }
        else:
            canonical[key] = value
    return json.dumps(canonical, sort_keys=True, default=str)


def normalized(policy: dict[str, Any]) -> tuple[str, frozenset[str]]:
    """A comparable form: servers rewrite documents (one-item lists become strings, Sids vanish)."""
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return str(policy.get("Version", "2008-10-17")), frozenset(_normalize_statement(item) for item in statements)


def same_policy(first: dict[str, Any] | None, second: dict[str, Any] | None) -> bool:
    if first is None or second is None:
        return first is second
    return normalized(first) == normalized(second)


def is_public_read_policy(policy: dict[str, Any], bucket: str) -> bool:
    """True for a policy that only grants anonymous read of `bucket`: ours, or the previous release's
    (which also let anyone list the bucket). Such a policy is removed when the bucket becomes private."""
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    if not statements:
        return False
    objects, whole = f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"
    for statement in statements:
        if set(statement) - {"Sid", "Effect", "Principal", "Action", "Resource"}:
            return False
        if statement.get("Effect") != "Allow" or _normalize_principal(statement.get("Principal")) != {"AWS": ["*"]}:
            return False
        actions = set(_as_sorted_list(statement.get("Action", [])))
        resources = set(_as_sorted_list(statement.get("Resource", [])))
        if not actions or not actions <= _ANONYMOUS_READ_ACTIONS or not resources or not resources <= {objects, whole}:
            return False
    return True


# -- planning ---------------------------------------------------------------------------------------
def managed_buckets(alias: str, settings: MinioSettings) -> tuple[str, ...]:
    """The buckets `initialize_buckets` creates for this alias (see the module docstring)."""
    if is_static_alias(alias):
        return (settings.static_files_bucket,)
    return settings.all_buckets


@dataclass
class BucketTarget:
    """One bucket on one server and the state the settings ask for."""

    bucket: str
    settings: MinioSettings  # of the first alias naming the bucket: its client is used
    aliases: list[str] = field(default_factory=list)  # aliases managing it or hooking a policy on it
    managed: bool = False  # some alias manages it: created when missing (a hook alone never creates one)
    public_votes: dict[str, bool] = field(default_factory=dict)  # managing alias -> does it call it public
    listing: bool = False
    hooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (alias, policy)
    staging_prefixes: list[str] = field(default_factory=list)  # MINIO_DIRECT_UPLOAD_PREFIX of managing aliases
    cors_origins: list[str] = field(default_factory=list)  # MINIO_CORS_ALLOWED_ORIGINS of managing aliases

    @property
    def public(self) -> bool:
        """Public only if every managing alias says so: a conflict never exposes a private bucket."""
        return bool(self.public_votes) and all(self.public_votes.values())

    @property
    def wanted_policy(self) -> dict[str, Any] | None:
        """A hook's policy replaces ours; None means "no public policy of ours"."""
        if self.hooks:
            return self.hooks[-1][1]
        if self.public:
            return public_read_policy(self.bucket, listing=self.listing)
        return None


def plan(aliases: Iterable[str] | None = None) -> list[BucketTarget]:
    """Every bucket of every MinIO alias once; `aliases` keeps only the buckets those aliases touch."""
    targets = targets_for({alias: get_settings(alias) for alias in minio_aliases()})
    wanted = None if aliases is None else set(aliases)
    return [item for item in targets if wanted is None or wanted & set(item.aliases)]


def targets_for(configured: Mapping[str, MinioSettings]) -> list[BucketTarget]:
    """The buckets of these aliases keyed by (endpoint, bucket), in settings order."""
    targets: dict[tuple[str, str], BucketTarget] = {}

    def target(settings: MinioSettings, bucket: str, alias: str) -> BucketTarget:
        key = (settings.endpoint.lower(), bucket)
        found = targets.get(key)
        if found is None:
            found = targets[key] = BucketTarget(bucket=bucket, settings=settings)
        if alias not in found.aliases:
            found.aliases.append(alias)
        return found

    for alias, settings in configured.items():
        for bucket in managed_buckets(alias, settings):
            found = target(settings, bucket, alias)
            found.managed = True
            public = settings.is_public(bucket)
            found.public_votes[alias] = public
            found.listing = found.listing or (public and settings.bucket_listing)
            prefix = settings.direct_upload_prefix
            if prefix is not None and prefix not in found.staging_prefixes:
                found.staging_prefixes.append(prefix)
            found.cors_origins += [o for o in settings.cors_allowed_origins if o not in found.cors_origins]
        for bucket, policy in settings.policy_hooks:
            target(settings, bucket, alias).hooks.append((alias, policy))
    return list(targets.values())


# -- applying ---------------------------------------------------------------------------------------
@dataclass
class BucketReport:
    target: BucketTarget
    actions: list[str] = field(default_factory=list)  # what this run changed
    notes: list[str] = field(default_factory=list)  # what could not be done, without failing the bucket
    error: str | None = None

    @property
    def state(self) -> str:
        if self.target.hooks:
            return "policy from MINIO_POLICY_HOOKS"
        if self.target.public:
            return "public, listable" if self.target.listing else "public"
        return "private"

    def describe(self) -> str:
        where = ", ".join(self.target.aliases)
        if self.error is not None:
            return f"{self.target.bucket} [{where}]: FAILED: {self.error}"
        done = "; ".join(self.actions) if self.actions else "up to date"
        notes = "".join(f"; {note}" for note in self.notes)
        return f"{self.target.bucket} [{where}]: {done} ({self.state}){notes}"


def _create(target: BucketTarget, report: BucketReport) -> None:
    client = get_client(target.settings)
    if client.bucket_exists(bucket_name=target.bucket):
        return
    if not target.managed:
        raise LookupError("bucket does not exist; MINIO_POLICY_HOOKS never create buckets, list it in a bucket setting")
    client.make_bucket(bucket_name=target.bucket, location=target.settings.region)
    report.actions.append("created")


def _apply_policy(target: BucketTarget, report: BucketReport) -> None:
    client = get_client(target.settings)
    current = get_policy(client, target.bucket)
    wanted = target.wanted_policy
    if wanted is not None:
        if not same_policy(current, wanted):
            set_policy(client, target.bucket, wanted)
            report.actions.append("policy hook applied" if target.hooks else "public read policy set")
    elif current is not None and is_public_read_policy(current, target.bucket):
        remove_policy(client, target.bucket)
        report.actions.append("public policy removed")


def _apply_lifecycle(target: BucketTarget, report: BucketReport) -> None:
    """A bucket we manage aborts incomplete multipart uploads (and expires staged direct uploads); a bucket only
    hooked is someone else's."""
    if not target.managed:
        return
    try:
        report.actions += ensure_lifecycle(S3Connection(target.settings), target.bucket, target.staging_prefixes)
    except LifecycleRefused as refused:
        report.notes.append(f"lifecycle rule not set, the server refuses it ({refused.code})")


def _apply_cors(target: BucketTarget, report: BucketReport) -> None:
    """Browsers of the allowed origins may upload into a bucket we manage (nothing is asked without origins)."""
    if not target.managed or not target.cors_origins:
        return
    try:
        done = ensure_cors_rule(S3Connection(target.settings), target.bucket, target.cors_origins)
    except ConfigRefused as refused:
        report.notes.append(f"CORS rule not set, the server refuses it ({refused.code}); see the README on CORS")
        return
    if done is not None:
        report.actions.append(f"CORS rule {done} (uploads from {', '.join(target.cors_origins)})")


def initialize_buckets(targets: Sequence[BucketTarget]) -> list[BucketReport]:
    """Create every missing bucket first, then give each its policy and lifecycle rule, so a hook always
    finds its bucket.

    Idempotent: a run right after another changes nothing. A failure is reported on its bucket and the
    other buckets are still handled.
    """
    reports = [BucketReport(target) for target in targets]
    for report in reports:
        try:
            _create(report.target, report)
        except Exception as exc:  # noqa: BLE001 - reported per bucket by the caller
            report.error = str(exc) or type(exc).__name__
    for report in reports:
        if report.error is None:
            try:
                _apply_policy(report.target, report)
                _apply_lifecycle(report.target, report)
                _apply_cors(report.target, report)
            except Exception as exc:  # noqa: BLE001 - reported per bucket by the caller
                report.error = str(exc) or type(exc).__name__
    return reports
