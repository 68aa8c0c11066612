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

Public means public under an alias's key prefix (MINIO_KEY_PREFIX; "" is the whole bucket): the policy grants
anonymous read of `bucket/PREFIX*` for each alias calling the bucket public, unless the prefix overlaps (holds,
or lies inside) the prefix of an alias calling it private. A conflict never exposes private files: such a
prefix stays private (and `manage.py check` warns, W002). So media under `media/` stays private while static
files under `static/` of the same bucket are public.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from minio import Minio
from minio.error import S3Error

from .aliases import is_static_alias, minio_aliases
from .bucket_xml import ConfigRefused
from .connection import S3Connection, get_client
from .cors import empty_cors, read_cors, with_cors_rule, write_cors
from .keys import outermost, overlap
from .lifecycle import empty_rules, read_rules, with_our_rules, write_rules
from .settings import MinioSettings, get_settings

POLICY_VERSION = "2012-10-17"
NO_POLICY_CODES = frozenset({"NoSuchBucketPolicy", "NoSuchPolicy"})
PUBLIC_READ_SID = "DjangoMinioBackendPublicRead"
PUBLIC_LIST_SID = "DjangoMinioBackendPublicList"
_ANONYMOUS_READ_ACTIONS = frozenset({"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"})


def public_read_policy(bucket: str, *, listing: bool = False, prefixes: Sequence[str] = ("",)) -> dict[str, Any]:
    """Anonymous GetObject on every object under `prefixes` (key prefixes; "" is the whole bucket); anonymous
    listing of those prefixes only when `listing` (MINIO_BUCKET_LISTING)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": PUBLIC_READ_SID,
            "Effect": "Allow",
            "Principal": {"AWS": ["*"]},
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*" for prefix in prefixes],
        }
    ]
    if listing:
        statement: dict[str, Any] = {
            "Sid": PUBLIC_LIST_SID,
            "Effect": "Allow",
            "Principal": {"AWS": ["*"]},
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}"],
        }
        if "" not in prefixes:  # list requests must ask for a public prefix
            statement["Condition"] = {"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}}
        statements.append(statement)
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


def is_public_read_policy(policy: dict[str, Any], bucket: str, prefixes: Iterable[str] = ()) -> bool:
    """True for a policy that only grants anonymous read of `bucket`, or of the key `prefixes` of the aliases
    managing it: ours, or the previous release's (which also let anyone list the bucket). Such a policy is
    removed when the bucket becomes private; one granting other prefixes is someone else's and stays."""
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    if not statements:
        return False
    whole = f"arn:aws:s3:::{bucket}"
    ours = {whole, *(f"{whole}/{prefix}*" for prefix in ("", *prefixes))}
    for statement in statements:
        if set(statement) - {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}:
            return False
        if statement.get("Effect") != "Allow" or _normalize_principal(statement.get("Principal")) != {"AWS": ["*"]}:
            return False
        actions = set(_as_sorted_list(statement.get("Action", [])))
        resources = set(_as_sorted_list(statement.get("Resource", [])))
        if not actions or not actions <= _ANONYMOUS_READ_ACTIONS or not resources or not resources <= ours:
            return False
        if "Condition" in statement and not _is_prefix_condition(statement["Condition"]):
            return False
    return True


def _is_prefix_condition(condition: Any) -> bool:
    """Our listing condition: list requests limited to key prefixes."""
    if not isinstance(condition, dict) or set(condition) != {"StringLike"}:
        return False
    values = condition["StringLike"]
    return isinstance(values, dict) and set(values) == {"s3:prefix"}


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
    prefixes: dict[str, str] = field(default_factory=dict)  # managing alias -> its key prefix ("": whole bucket)
    listing: bool = False
    hooks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (alias, policy)
    staging_prefixes: list[str] = field(default_factory=list)  # MINIO_DIRECT_UPLOAD_PREFIX of managing aliases
    cors_origins: list[str] = field(default_factory=list)  # MINIO_CORS_ALLOWED_ORIGINS of managing aliases

    @property
    def conflicts(self) -> list[tuple[str, str]]:
        """(public alias, private alias) pairs whose key prefixes overlap: those public prefixes stay private."""
        votes, prefixes = self.public_votes, self.prefixes
        return [
            (public, private)
            for public in votes
            if votes[public]
            for private in votes
            if not votes[private] and overlap(prefixes[public], prefixes[private])
        ]

    @property
    def public_prefixes(self) -> list[str]:
        """The key prefixes anyone may read: the public aliases' prefixes that overlap no private alias's prefix
        (a conflict never exposes private files), each once."""
        withheld = {public for public, _ in self.conflicts}
        return outermost(
            self.prefixes[alias] for alias, public in self.public_votes.items() if public and alias not in withheld
        )

    @property
    def public(self) -> bool:
        return bool(self.public_prefixes)

    @property
    def wanted_policy(self) -> dict[str, Any] | None:
        """A hook's policy replaces ours; None means "no public policy of ours"."""
        if self.hooks:
            return self.hooks[-1][1]
        prefixes = self.public_prefixes
        if prefixes:
            return public_read_policy(self.bucket, listing=self.listing, prefixes=prefixes)
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
            found.prefixes[alias] = settings.key_prefix
            found.listing = found.listing or (public and settings.bucket_listing)
            prefix = settings.staging_key_prefix
            if prefix is not None and prefix not in found.staging_prefixes:
                found.staging_prefixes.append(prefix)
            found.cors_origins += [o for o in settings.cors_allowed_origins if o not in found.cors_origins]
        for bucket, policy in settings.policy_hooks:
            target(settings, bucket, alias).hooks.append((alias, policy))
    return list(targets.values())


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
    found = with_our_rules(read_rules(connection, target.bucket) if exists else empty_rules(), target.staging_prefixes)
    if found is None:
        return []
    document, rules = found
    *first, last = rules
    changes = [Change(rule.planned, rule.done, _nothing) for rule in first]
    return [*changes, Change(last.planned, last.done, lambda: write_rules(connection, target.bucket, document))]


def _cors_changes(target: BucketTarget, exists: bool) -> list[Change]:
    """Browsers of the allowed origins may upload into a bucket we manage (nothing is asked without origins)."""
    if not target.managed or not target.cors_origins:
        return []
    connection = S3Connection(target.settings)
    found = with_cors_rule(read_cors(connection, target.bucket) if exists else empty_cors(), target.cors_origins)
    if found is None:
        return []
    document, done = found
    origins = ", ".join(target.cors_origins)
    verb = {"added": "add", "updated": "update"}[done]
    return [
        Change(
            f"{verb} CORS rule (uploads from {origins})",
            f"CORS rule {done} (uploads from {origins})",
            lambda: write_cors(connection, target.bucket, document),
        )
    ]


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


def policy_diff(current: dict[str, Any] | None, wanted: dict[str, Any] | None) -> tuple[str, ...]:
    """Statements to remove (`-`) and to add (`+`), compared by meaning as `same_policy` does."""
    old = normalized(current)[1] if current is not None else frozenset()
    new = normalized(wanted)[1] if wanted is not None else frozenset()
    return (*(f"policy - {item}" for item in sorted(old - new)), *(f"policy + {item}" for item in sorted(new - old)))


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
