"""Bucket policy documents: the public-read policy of key prefixes, reading and writing a bucket's policy, and
comparing two policies by what they grant (servers rewrite documents: one-item lists become strings, Sids vanish).

Public means public under an alias's key prefix (MINIO_KEY_PREFIX; "" is the whole bucket): the policy grants
anonymous read of `bucket/PREFIX*` for each prefix, and anonymous listing of those prefixes only with
MINIO_BUCKET_LISTING. Which prefixes are public is planned in bucket_plan.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from minio import Minio
from minio.error import S3Error

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


def policy_diff(current: dict[str, Any] | None, wanted: dict[str, Any] | None) -> tuple[str, ...]:
    """Statements to remove (`-`) and to add (`+`), compared by meaning as `same_policy` does."""
    old = normalized(current)[1] if current is not None else frozenset()
    new = normalized(wanted)[1] if wanted is not None else frozenset()
    return (*(f"policy - {item}" for item in sorted(old - new)), *(f"policy + {item}" for item in sorted(new - old)))
