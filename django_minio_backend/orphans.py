r"""Finding objects that no database row references, for `clean_orphaned_minio_files`.

The rule is never to delete a referenced file:

- Buckets are grouped by name. Every FileField storing into a bucket of that name contributes its names,
  whichever model, alias or endpoint string it uses, so `127.0.0.1:9000` and `localhost:9000` protect each
  other's files. A name referenced in one bucket protects nothing in another.
- Storages naming a bucket through different endpoints must be shown to reach one server: same scheme, same
  port, and host names whose resolved address sets intersect. Otherwise the bucket is refused and nothing in
  it is deleted: its rows may be spread over two servers, and one listing can account for only one of them.
- Names are read through a plain QuerySet built for the scan, so no default or base manager hides a row.
- A key that XML 1.0 cannot carry (control characters, and `\r`, which the server's parser reads as `\n`)
  is deleted by a DELETE of its own, never inside a DeleteObjects body.
- A listed key that equals a referenced name once `\` is read as `/` is kept: SeaweedFS stores `a\b` as
  `a/b`.

Only the key prefixes (MINIO_KEY_PREFIX) of the storages whose fields store into a bucket are listed, and a key
outside them is never touched: one bucket can hold several applications' files. A row's name is matched as the
key its field's storage gives it. No static alias's prefix is ever scanned, since no row references
collectstatic output: keys under it are never orphans, and a field whose prefix lies inside it (a static alias
without a prefix covers its whole bucket) is skipped. Nor are buckets that no FileField stores into (their objects
would all look orphaned).

Direct uploads staged under an alias's MINIO_DIRECT_UPLOAD_PREFIX are not orphans of their bucket (no row names
them until the form is saved): direct/cleanup.py removes those older than a day.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.db import models
from minio import Minio
from minio.datatypes import Object
from minio.deleteobjects import DeleteObject

from .alias_settings import get_settings
from .aliases import is_static_alias, minio_aliases
from .connection import get_client
from .direct.cleanup import staging_areas
from .keys import ObjectKeys, outermost
from .settings import MinioSettings
from .static import MinioBackendStatic
from .storage import MinioBackend

NO_PREFIX = ObjectKeys()
_IN_BATCH = 500  # names per `__in` query, below every database's parameter limit
_AGE = re.compile(r"(\d+)([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NOT_IN_XML = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # XML 1.0 Char, less \r
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


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
    """One FileField (or ImageField) of one concrete model, and the keys its storage gives names."""

    model: type[models.Model]
    field: models.FileField
    keys: ObjectKeys = NO_PREFIX

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"

    def _rows(self) -> models.QuerySet[models.Model]:
        """A plain QuerySet of its own: the default manager and the base manager (`Meta.base_manager_name`)
        may both hide rows whose files are still in use."""
        column = self.field.attname
        rows: models.QuerySet[models.Model] = models.QuerySet(model=self.model)
        return rows.exclude(**{f"{column}__isnull": True}).exclude(**{column: ""})

    def names(self) -> Iterator[str]:
        """Every stored name, streamed: one column, no model instances."""
        return self._rows().values_list(self.field.attname, flat=True).iterator(chunk_size=2000)

    def rows_referencing(self, keys: Collection[str]) -> Iterator[tuple[Any, str]]:
        """(pk, name) of the rows storing a name whose key is one of `keys`."""
        ordered = sorted(name for name in map(self.keys.name, keys) if name is not None)
        for start in range(0, len(ordered), _IN_BATCH):
            chunk = ordered[start : start + _IN_BATCH]
            rows = self._rows().filter(**{f"{self.field.attname}__in": chunk})
            yield from rows.values_list("pk", self.field.attname).iterator()


@dataclass
class BucketGroup:
    """A bucket name and every field storing into it, through whichever alias or endpoint."""

    bucket: str
    settings: MinioSettings  # of the first storage seen; its client is used
    aliases: list[str] = field(default_factory=list)
    fields: list[FileFieldRef] = field(default_factory=list)
    endpoints: dict[str, list[str]] = field(default_factory=dict)  # endpoint URL -> aliases using it
    refusal: str | None = None  # why nothing in this bucket may be deleted
    static_prefixes: tuple[str, ...] = ()  # key prefixes of static aliases in this bucket: never orphans
    staging_prefixes: tuple[str, ...] = ()  # direct uploads in flight, never orphans (see clean_staged)

    @property
    def client(self) -> Minio:
        return get_client(self.settings)

    @property
    def prefixes(self) -> list[str]:
        """The key prefixes listed: those of the fields' storages, each listed once."""
        return outermost(ref.keys.prefix for ref in self.fields)

    def referenced_keys(self) -> set[str]:
        """The key of every name a row holds, as its field's storage maps it."""
        keys: set[str] = set()
        for ref in self.fields:
            keys.update(map(ref.keys.stored_key, ref.names()))
        return keys

    def is_static(self, key: str) -> bool:
        return key.startswith(self.static_prefixes)


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
                yield FileFieldRef(model, candidate, storage.settings.keys), storage


def static_prefixes() -> dict[str, set[str]]:
    """The key prefix of every static alias by its static files bucket, whatever its endpoint: collectstatic output,
    never scanned."""
    found: dict[str, set[str]] = {}
    for alias in minio_aliases():
        if is_static_alias(alias):
            settings = get_settings(alias)
            found.setdefault(settings.static_files_bucket, set()).add(settings.key_prefix)
    return found


def bucket_groups() -> tuple[list[BucketGroup], list[str]]:
    """The buckets to scan (a refused one carries its `refusal`), and why others were skipped."""
    groups: dict[str, BucketGroup] = {}
    statics = static_prefixes()
    skipped: list[str] = []
    for ref, storage in minio_file_fields():
        static = tuple(sorted(statics.get(storage.bucket, ())))
        if ref.keys.prefix.startswith(static):  # the field's whole prefix is collectstatic's
            skipped.append(f"{storage.bucket}: static files bucket (field {ref.label})")
            continue
        group = groups.get(storage.bucket)
        if group is None:
            group = groups[storage.bucket] = BucketGroup(
                bucket=storage.bucket, settings=storage.settings, static_prefixes=static
            )
        if storage.alias not in group.aliases:
            group.aliases.append(storage.alias)
        sharing = group.endpoints.setdefault(endpoint_url(storage.settings), [])
        if storage.alias not in sharing:
            sharing.append(storage.alias)
        group.fields.append(ref)
    for group in groups.values():
        group.refusal = refusal(group)
        group.staging_prefixes = tuple(prefix for bucket, prefix, _ in staging_areas() if bucket == group.bucket)
    return list(groups.values()), skipped


def endpoint_url(settings: MinioSettings) -> str:
    """`http://host:port` as the storage reaches it: the scheme matters as much as the host."""
    return f"{'https' if settings.use_https else 'http'}://{settings.endpoint.lower()}"


def refusal(group: BucketGroup) -> str | None:
    """Why the group's endpoints may be more than one server, or None when they are one."""
    urls = list(group.endpoints)
    for index, first in enumerate(urls):
        for second in urls[index + 1 :]:
            doubt = doubt_about_one_server(first, second)
            if doubt is not None:
                return (
                    f"Refusing bucket {group.bucket}: nothing in it is deleted: cannot tell whether "
                    f"{', '.join(group.endpoints[first])} ({first}) and {', '.join(group.endpoints[second])} "
                    f"({second}) are one server ({doubt}). Give these aliases one MINIO_ENDPOINT, "
                    "or store into buckets of different names."
                )
    return None


def doubt_about_one_server(first: str, second: str) -> str | None:
    """None when endpoint URLs `first` and `second` reach one server; otherwise why that cannot be shown."""
    one, other = urlsplit(first), urlsplit(second)
    if one.scheme != other.scheme:
        return f"{one.scheme} and {other.scheme}"
    try:
        ports = (one.port or _DEFAULT_PORTS[one.scheme], other.port or _DEFAULT_PORTS[other.scheme])
    except ValueError as exc:
        return str(exc)
    if ports[0] != ports[1]:
        return "different ports"
    if one.hostname == other.hostname:
        return None
    try:
        addresses = [_addresses(url.hostname or "", ports[0]) for url in (one, other)]
    except OSError as exc:
        return f"a host name does not resolve: {exc}"
    if addresses[0].isdisjoint(addresses[1]):
        return f"their host names resolve to different addresses: {sorted(addresses[0])}, {sorted(addresses[1])}"
    return None


def _addresses(host: str, port: int) -> set[str]:
    return {str(found[4][0]) for found in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}


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

    Objects without a modification time are kept: an unknown age is never old enough. So is an object
    whose key matches a referenced name once every `\\` is read as `/` (see `referenced_as`). Referenced
    names found are added to `seen` when given (for --check-missing); `progress` is called every
    `progress_every` objects listed.
    """
    backslashed: dict[str, list[str]] = {}  # referenced names holding "\\", by their form with "/"
    for name in referenced:
        if "\\" in name:
            backslashed.setdefault(name.replace("\\", "/"), []).append(name)
    for item in _listing(scan.group):
        name = item.object_name or ""
        if item.is_dir or not name or scan.group.is_static(name):
            continue
        if progress is not None and scan.listed and scan.listed % progress_every == 0:
            progress(scan)  # every `progress_every` objects, once they are all accounted for
        scan.listed += 1
        if scan.group.staging_prefixes and name.startswith(scan.group.staging_prefixes):
            continue  # a direct upload whose form is not saved yet: clean_staged's business
        if name in referenced:
            if seen is not None:
                seen.add(name)
            continue
        found = referenced_as(name, referenced, backslashed)
        if found:
            if seen is not None:
                seen.update(found)
            continue
        if cutoff is not None and (item.last_modified is None or item.last_modified > cutoff):
            scan.recent += 1
            continue
        scan.orphans += 1
        yield name
    scan.complete = True


def _listing(group: BucketGroup) -> Iterator[Object]:
    """Every object under the group's key prefixes, each once (paginated by the SDK)."""
    for prefix in group.prefixes:
        yield from group.client.list_objects(bucket_name=group.bucket, prefix=prefix or None, recursive=True)


def referenced_as(key: str, referenced: set[str], backslashed: dict[str, list[str]]) -> list[str]:
    """The referenced names that a listed key not in `referenced` may be: equal once `\\` is read as `/`
    on both sides. A server that turns `\\` into `/` (SeaweedFS) lists `a\\b` as `a/b`."""
    slashed = key.replace("\\", "/")
    found = list(backslashed.get(slashed, ()))
    if slashed != key and slashed in referenced:
        found.append(slashed)
    return found


def xml_cannot_carry(key: str) -> bool:
    """True for a key a DeleteObjects body cannot hold: a character outside XML 1.0 makes the whole request
    MalformedXML, and a `\\r` is read as `\\n` by the server's parser, which would delete another key."""
    return _NOT_IN_XML.search(key) is not None


def shown(name: str) -> str:
    """`name` for output: its repr() when it holds control characters, which would garble a terminal."""
    return repr(name) if _CONTROL.search(name) else name


def delete_batch(scan: BucketScan, names: list[str]) -> list[str]:
    """Delete up to DELETE_BATCH (direct/cleanup.py) names: one DeleteObjects request for the keys XML can
    carry, one DELETE (the key in the URL path) for each other key. Failures are recorded, not raised; returns
    the keys deleted on their own, for the report."""
    client, bucket = scan.group.client, scan.group.bucket
    alone = [name for name in names if xml_cannot_carry(name)]
    batch = [DeleteObject(name=name) for name in names if not xml_cannot_carry(name)]
    if batch:
        failures = list(client.remove_objects(bucket_name=bucket, delete_object_list=batch))
        scan.deleted += len(batch) - len(failures)
        scan.errors.extend(
            f"could not delete {bucket}/{shown(item.name or '')}: {item.code} {item.message}" for item in failures
        )
    deleted: list[str] = []
    for name in alone:
        try:
            client.remove_object(bucket_name=bucket, object_name=name)
        except Exception as exc:  # noqa: BLE001 - recorded like a DeleteObjects failure; the next key is tried
            scan.errors.append(f"could not delete {bucket}/{shown(name)}: {exc}")
            continue
        scan.deleted += 1
        deleted.append(name)
    return deleted
