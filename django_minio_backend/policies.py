"""Bucket policy documents and applying them."""

from __future__ import annotations

import json
from typing import Any

from minio import Minio
from minio.error import S3Error

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
