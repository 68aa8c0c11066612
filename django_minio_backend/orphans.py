"""Finding objects that no database row references, for `clean_orphaned_minio_files`.

Matching is per physical bucket, i.e. per (endpoint, bucket): every FileField storing into a bucket
contributes its names, whichever alias or model it comes from, and a name referenced in one bucket
protects nothing in another. Static files buckets are never scanned (no row references collectstatic
output), nor are buckets that no FileField stores into (their objects would all look orphaned).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.db import models
from minio import Minio
from minio.deleteobjects import DeleteObject

from .client import get_client
from .policies import is_static_alias
from .settings import MinioSettings, get_settings, minio_aliases
from .static import MinioBackendStatic
from .storage import MinioBackend

DELETE_BATCH = 1000  # the most keys one S3 DeleteObjects request takes
_IN_BATCH = 500  # names per `__in` query, below every database's parameter limit
_AGE = re.compile(r"(\d+)([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> timedelta | None:
    """`90`, `45s`, `30m`, `1h`, `2d` -> timedelta; `0` -> None (no age limit)."""
    found = _AGE.fullmatch(text.strip().lower())
    if found is None:
        raise ValueError(f"{text!r} is not an age: use seconds or a number with s, m, h or d (90, 30m, 1h, 2d)")
    seconds = int(found.group(1)) * _UNIT_SECONDS[found.group(2)]
    return timedelta(seconds=seconds) if seconds else None


def format_age(age: timedelta | None) -> str:
    if age is None:
        return "no age limit"
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class FileFieldRef:
    """One FileField (or ImageField) of one concrete model."""

    model: type[models.Model]
    field: models.FileField

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"

    def _rows(self) -> models.QuerySet[models.Model]:
        """Through the base manager: a custom default manager may hide rows whose files are still in use."""
        column = self.field.attname
        return self.model._base_manager.exclude(**{f"{column}__isnull": True}).exclude(**{column: ""})

    def names(self) -> Iterator[str]:
        """Every stored name, streamed: one column, no model instances."""
        return self._rows().values_list(self.field.attname, flat=True).iterator(chunk_size=2000)

    def rows_referencing(self, names: Collection[str]) -> Iterator[tuple[Any, str]]:
        """(pk, name) of the rows storing one of `names`."""
        ordered = sorted(names)
        for start in range(0, len(ordered), _IN_BATCH):
            chunk = ordered[start : start + _IN_BATCH]
            rows = self._rows().filter(**{f"{self.field.attname}__in": chunk})
            yield from rows.values_list("pk", self.field.attname).iterator()


@dataclass
class BucketGroup:
    """A bucket on one server and every field storing into it."""

    bucket: str
    settings: MinioSettings  # of the first storage seen; its client is used
    aliases: list[str] = field(default_factory=list)
    fields: list[FileFieldRef] = field(default_factory=list)

    @property
    def client(self) -> Minio:
        return get_client(self.settings)

    def referenced_names(self) -> set[str]:
        names: set[str] = set()
        for ref in self.fields:
            names.update(ref.names())
        return names


def minio_file_fields() -> Iterator[tuple[FileFieldRef, MinioBackend]]:
    """Every concrete FileField whose storage is a MinIO media backend, each once (proxies and
    multi-table children share their parent's column and are skipped)."""
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for candidate in model._meta.local_concrete_fields:
            if not isinstance(candidate, models.FileField):
                continue
            storage = candidate.storage
            if isinstance(storage, MinioBackend) and not isinstance(storage, MinioBackendStatic):
                yield FileFieldRef(model, candidate), storage


def static_buckets() -> set[tuple[str, str]]:
    """(endpoint, bucket) of every static alias: collectstatic output, never scanned."""
    found: set[tuple[str, str]] = set()
    for alias in minio_aliases():
        if is_static_alias(alias):
            settings = get_settings(alias)
            found.add((settings.endpoint.lower(), settings.static_files_bucket))
    return found


def bucket_groups() -> tuple[list[BucketGroup], list[str]]:
    """The buckets to scan, and why others were skipped."""
    groups: dict[tuple[str, str], BucketGroup] = {}
    statics = static_buckets()
    skipped: list[str] = []
    for ref, storage in minio_file_fields():
        settings = storage.settings
        key = (settings.endpoint.lower(), storage.bucket)
        if key in statics:
            skipped.append(f"{storage.bucket}: static files bucket (field {ref.label})")
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = BucketGroup(bucket=storage.bucket, settings=settings)
        if storage.alias not in group.aliases:
            group.aliases.append(storage.alias)
        group.fields.append(ref)
    return list(groups.values()), skipped


@dataclass
class BucketScan:
    """Counts for one bucket; `complete` is False when the listing stopped early."""

    group: BucketGroup
    referenced: int = 0
    listed: int = 0
    orphans: int = 0
    deleted: int = 0
    recent: int = 0
    missing: int = 0
    complete: bool = False
    errors: list[str] = field(default_factory=list)


def iter_orphans(
    scan: BucketScan,
    referenced: set[str],
    cutoff: datetime | None,
    seen: set[str] | None = None,
    progress: Callable[[BucketScan], None] | None = None,
    progress_every: int = 10_000,
) -> Iterator[str]:
    """List the bucket once (paginated by the SDK) and yield each unreferenced object older than `cutoff`.

    Objects without a modification time are kept: an unknown age is never old enough. Referenced
    names found are added to `seen` when given (for --check-missing); `progress` is called every
    `progress_every` objects listed.
    """
    for item in scan.group.client.list_objects(bucket_name=scan.group.bucket, recursive=True):
        name = item.object_name
        if item.is_dir or name is None:
            continue
        if progress is not None and scan.listed and scan.listed % progress_every == 0:
            progress(scan)  # every `progress_every` objects, once they are all accounted for
        scan.listed += 1
        if name in referenced:
            if seen is not None:
                seen.add(name)
            continue
        if cutoff is not None and (item.last_modified is None or item.last_modified > cutoff):
            scan.recent += 1
            continue
        scan.orphans += 1
        yield name
    scan.complete = True


def delete_batch(scan: BucketScan, names: list[str]) -> None:
    """One DeleteObjects request for up to DELETE_BATCH names; failures are recorded, not raised."""
    failures = list(
        scan.group.client.remove_objects(
            bucket_name=scan.group.bucket, delete_object_list=[DeleteObject(name=name) for name in names]
        )
    )
    scan.deleted += len(names) - len(failures)
    scan.errors.extend(
        f"could not delete {scan.group.bucket}/{item.name}: {item.code} {item.message}" for item in failures
    )
