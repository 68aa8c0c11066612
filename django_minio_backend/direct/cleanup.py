"""Abandoned direct uploads: staged objects older than a day, and multipart uploads under the staging prefix begun
more than a day ago, removed by `clean_orphaned_minio_files` for servers without the lifecycle rule that
`initialize_buckets` sets (lifecycle.py). Staged objects are never ordinary orphans (orphans.py skips them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from minio.deleteobjects import DeleteObject

from ..alias_settings import get_settings
from ..aliases import is_static_alias, minio_aliases
from ..connection import S3Connection, get_client
from ..multipart import MultipartUpload, xml_answer
from ..settings import MinioSettings
from ..signing import EMPTY_SHA256

__all__ = ["DELETE_BATCH", "STAGED_MAX_AGE", "StagingSweep", "clean_staged", "staging_areas"]

DELETE_BATCH = 1000  # the most keys one S3 DeleteObjects request takes
STAGED_MAX_AGE = timedelta(days=1)  # staged direct uploads older than this are abandoned


@dataclass
class StagingSweep:
    """What clean_staged found under one staging prefix."""

    bucket: str
    prefix: str
    stale: list[str] = field(default_factory=list)  # objects older than the age
    deleted: int = 0
    aborted: int = 0  # multipart uploads begun before the age
    errors: list[str] = field(default_factory=list)


def staging_areas() -> list[tuple[str, str, MinioSettings]]:
    """(bucket, prefix, settings) of every media alias with MINIO_DIRECT_UPLOAD_PREFIX, for each bucket it manages."""
    found: dict[tuple[str, str], MinioSettings] = {}
    for alias in minio_aliases():
        if is_static_alias(alias):
            continue
        settings = get_settings(alias)
        if settings.staging_key_prefix is not None:
            for bucket in settings.all_buckets:
                found.setdefault((bucket, settings.staging_key_prefix), settings)
    return [(bucket, prefix, settings) for (bucket, prefix), settings in found.items()]


def clean_staged(
    bucket: str, prefix: str, settings: MinioSettings, *, older_than: timedelta = STAGED_MAX_AGE, dry_run: bool = False
) -> StagingSweep:
    """Delete staged objects under `prefix` older than `older_than`, and abort multipart uploads under it begun
    before then (unless `dry_run`). Failures are recorded, not raised."""
    sweep = StagingSweep(bucket, prefix)
    cutoff = datetime.now(tz=UTC) - older_than
    client = get_client(settings)
    try:
        for item in client.list_objects(bucket_name=bucket, prefix=prefix, recursive=True):
            if item.object_name and item.last_modified is not None and item.last_modified <= cutoff:
                sweep.stale.append(item.object_name)
        if not dry_run and sweep.stale:
            for start in range(0, len(sweep.stale), DELETE_BATCH):
                batch = [DeleteObject(name) for name in sweep.stale[start : start + DELETE_BATCH]]
                failures = list(client.remove_objects(bucket_name=bucket, delete_object_list=batch))
                sweep.deleted += len(batch) - len(failures)
                sweep.errors += [f"could not delete {bucket}/{item.name}: {item.code}" for item in failures]
        connection = S3Connection(settings)
        for key, upload_id in _uploads_before(connection, bucket, prefix, cutoff):
            sweep.aborted += 1
            if not dry_run:
                MultipartUpload(connection, bucket, key, upload_id).abort()
    except Exception as exc:  # noqa: BLE001 - reported per prefix, the others still run
        sweep.errors.append(f"cleaning staged uploads under {bucket}/{prefix} failed: {exc}")
    return sweep


def _uploads_before(connection: S3Connection, bucket: str, prefix: str, cutoff: datetime) -> list[tuple[str, str]]:
    """(key, upload id) of the multipart uploads under `prefix` begun before `cutoff`, every page."""
    found: list[tuple[str, str]] = []
    query = [("uploads", ""), ("prefix", prefix)]
    while True:
        response = connection.request("GET", bucket, query=query, payload_sha256=EMPTY_SHA256)
        listing = xml_answer(response, bucket, prefix)
        for upload in listing.iterfind("{*}Upload"):
            key, upload_id = upload.findtext("{*}Key") or "", upload.findtext("{*}UploadId") or ""
            try:
                begun = datetime.fromisoformat(upload.findtext("{*}Initiated") or "")
            except ValueError:
                continue  # an unknown age is never old enough
            if begun.tzinfo is not None and begun <= cutoff and key and upload_id:
                found.append((key, upload_id))
        key_marker, id_marker = listing.findtext("{*}NextKeyMarker"), listing.findtext("{*}NextUploadIdMarker")
        if listing.findtext("{*}IsTruncated") != "true" or not key_marker:
            return found
        query = [*query[:2], ("key-marker", key_marker), ("upload-id-marker", id_marker or "")]
