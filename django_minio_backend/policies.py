"""Bucket policy documents and applying them."""

from __future__ import annotations

import json
from typing import Any

from minio import Minio
from minio.error import S3Error

from .settings import MinioSettings

POLICY_VERSION = "2012-10-17"
NO_POLICY_CODES = frozenset({"NoSuchBucketPolicy", "NoSuchPolicy"})


def public_read_policy(bucket: str) -> dict[str, Any]:
    """Anonymous GetObject on every object; the bucket itself stays unlistable."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "DjangoMinioBackendPublicRead",
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


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


def initialize_buckets(client: Minio, settings: MinioSettings) -> list[str]:
    """Create this alias's missing buckets and give each the policy its settings ask for.

    Public buckets (and the static bucket) get read-only public access; private buckets that still
    carry our public policy lose it; then each MINIO_POLICY_HOOKS entry is applied to its bucket,
    which exists by then. Returns one line of report per action.
    """
    report: list[str] = []
    buckets = (*settings.all_buckets, settings.static_files_bucket)
    for bucket in dict.fromkeys(buckets):
        if not client.bucket_exists(bucket_name=bucket):
            client.make_bucket(bucket_name=bucket, location=settings.region)
            report.append(f"created bucket {bucket}")
        current = get_policy(client, bucket)
        if settings.is_public(bucket):
            wanted = public_read_policy(bucket)
            if current != wanted:
                set_policy(client, bucket, wanted)
                report.append(f"set public read policy on {bucket}")
        elif current == public_read_policy(bucket):
            remove_policy(client, bucket)
            report.append(f"removed public policy from {bucket}")
    for bucket, policy in settings.policy_hooks:
        if get_policy(client, bucket) != policy:
            set_policy(client, bucket, policy)
            report.append(f"applied policy hook to {bucket}")
    return report
