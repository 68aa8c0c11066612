"""The staging area of direct uploads: where browsers write, under keys the server chooses.

One area per (alias, bucket): `MINIO_DIRECT_UPLOAD_PREFIX` of the alias, in the bucket of the field's storage.
A browser never picks a key: the ticket view draws a random one under the prefix, and every URL or policy it
hands out names exactly that key. Objects left here (an abandoned form, a closed tab) are removed after a day
by the lifecycle rule `initialize_buckets` sets, or by `clean_orphaned_minio_files` where the server has none.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from minio.error import S3Error

from ..connection import S3Connection
from ..errors import is_not_found
from ..multipart import MultipartUpload, xml_answer
from ..presign_upload import PostPolicy, UploadURLs
from ..settings import MinioSettings
from ..signing import EMPTY_SHA256
from ..storage import MinioBackend
from ..upload import MAX_SINGLE_PUT, part_size_for

__all__ = ["StagedObject", "StagingArea", "UploadIncomplete", "part_count", "part_length"]

KEY_BYTES = 16  # 128 random bits per key


def part_count(size: int, part_size: int) -> int:
    """How many parts of `part_size` bytes a multipart upload of `size` bytes has (at least one)."""
    return max(1, -(-size // part_size))


def part_length(number: int, size: int, part_size: int) -> int:
    """The length of part `number` (from 1) of such an upload: `part_size`, but the last holds the rest."""
    count = part_count(size, part_size)
    return part_size if number < count else size - part_size * (count - 1)


class UploadIncomplete(Exception):
    """The parts the server holds are not the parts the ticket asked for; the message says which."""


@dataclass(frozen=True, slots=True)
class StagedObject:
    """What a HEAD of a staged object found."""

    size: int
    content_type: str
    etag: str


class StagingArea:
    """The staging prefix of one storage's bucket: keys, upload URLs, multipart uploads, checks and deletes."""

    def __init__(self, storage: MinioBackend) -> None:
        settings = storage.settings
        if settings.staging_key_prefix is None:
            raise ImproperlyConfigured(
                f"Direct uploads into STORAGES[{settings.alias!r}] need MINIO_DIRECT_UPLOAD_PREFIX in its OPTIONS "
                '(e.g. "direct-uploads/"); objects under it are deleted after a day'
            )
        self.storage = storage
        self.settings: MinioSettings = settings
        self.prefix: str = settings.staging_key_prefix  # a key prefix: MINIO_KEY_PREFIX + MINIO_DIRECT_UPLOAD_PREFIX
        self.bucket = storage.bucket
        self.alias = settings.alias

    @classmethod
    def of(cls, alias: str, bucket: str) -> StagingArea:
        return cls(MinioBackend(bucket_name=bucket, storage_name=alias))

    @property
    def expiry(self) -> timedelta:
        return self.settings.direct_upload_expiry

    def _connection(self) -> S3Connection:
        return S3Connection(self.settings)

    def _urls(self) -> UploadURLs:
        return UploadURLs(self.settings, self.bucket)

    def new_key(self) -> str:
        return f"{self.prefix}{secrets.token_hex(KEY_BYTES)}"

    def owns(self, key: str) -> bool:
        """A key this area could have drawn (a token names it, so this is a second line of defence)."""
        random = key.removeprefix(self.prefix)
        return key.startswith(self.prefix) and len(random) == 2 * KEY_BYTES and random.isalnum()

    # -- handing out uploads ---------------------------------------------------------------------------
    def post(self, key: str, *, max_size: int, content_type: str) -> PostPolicy:
        """A form POST of exactly this key, 1 to `max_size` bytes of exactly this type."""
        return self._urls().post(key, max_size=max_size, content_type=content_type, expire=self.expiry)

    def part_size(self, size: int) -> int:
        """The alias's part size, grown (in whole MiB) so the file fits in S3's 10,000 parts, as for a save()."""
        return part_size_for(self.settings.multipart_part_size, size)

    def uses_parts(self, size: int) -> bool:
        """Parts from MINIO_MULTIPART_THRESHOLD on (5 GiB at most in one POST, whatever the setting)."""
        return size >= min(self.settings.multipart_threshold, MAX_SINGLE_PUT) and size > 0

    def begin(self, key: str, content_type: str) -> str:
        """Start the multipart upload of a staged key; its id."""
        return MultipartUpload.begin(self._connection(), self.bucket, key, content_type, checksums=False).upload_id

    def part_url(self, key: str, upload_id: str, number: int, length: int) -> str:
        """A PUT of one part that the server accepts only with exactly `length` bytes."""
        return self._urls().url(
            "PUT",
            key,
            parameters={"Content-Length": str(length)},
            expire=self.expiry,
            query=(("partNumber", str(number)), ("uploadId", upload_id)),
        )

    def complete(self, key: str, upload_id: str, *, size: int, part_size: int) -> None:
        """Complete the upload from the parts the server holds, after checking they are exactly parts 1..N of the
        announced sizes: the browser's word is not taken for what it sent."""
        count = part_count(size, part_size)
        try:
            parts = self._list_parts(key, upload_id)
        except S3Error as error:
            stored = self.inspect(key) if error.code == "NoSuchUpload" else None
            if stored is not None and stored.size == size:
                return  # completed already: a repeated request after a lost answer
            raise
        for number in range(1, count + 1):
            expected = part_length(number, size, part_size)
            found = parts.get(number)
            if found is None:
                raise UploadIncomplete(f"part {number} of {count} has not arrived")
            if found[1] != expected:
                raise UploadIncomplete(f"part {number} holds {found[1]} bytes instead of {expected}")
        if len(parts) != count:
            raise UploadIncomplete(f"{len(parts)} parts arrived instead of {count}")
        upload = MultipartUpload(self._connection(), self.bucket, key, upload_id)
        try:
            upload.complete([parts[number][0] for number in range(1, count + 1)], {}, lambda: False)
        except Exception:
            found_object = self.inspect(key)  # a lost answer: the upload may be complete all the same
            if found_object is None or found_object.size != size:
                raise

    def _list_parts(self, key: str, upload_id: str) -> dict[int, tuple[str, int]]:
        """Part number -> (ETag, size), every page of ListParts."""
        parts: dict[int, tuple[str, int]] = {}
        marker = "0"
        connection = self._connection()
        while True:
            query = [("uploadId", upload_id), ("part-number-marker", marker), ("max-parts", "1000")]
            response = connection.request("GET", self.bucket, key, query=query, payload_sha256=EMPTY_SHA256)
            listing = xml_answer(response, self.bucket, key)
            for part in listing.iterfind("{*}Part"):
                number = int(part.findtext("{*}PartNumber") or "0")
                parts[number] = (part.findtext("{*}ETag") or "", int(part.findtext("{*}Size") or "-1"))
            marker = listing.findtext("{*}NextPartNumberMarker") or ""
            if listing.findtext("{*}IsTruncated") != "true" or not marker:
                return parts

    # -- what arrived ----------------------------------------------------------------------------------
    def inspect(self, key: str) -> StagedObject | None:
        """One HEAD: the staged object's size and type, None when there is none (any other failure raises)."""
        try:
            response = self._connection().request("HEAD", self.bucket, key, payload_sha256=EMPTY_SHA256)
        except S3Error as error:
            if is_not_found(error):
                return None
            raise
        return StagedObject(
            size=int(response.headers.get("Content-Length", "-1")),
            content_type=str(response.headers.get("Content-Type", "")),
            etag=str(response.headers.get("ETag", "")).strip('"'),
        )

    def open(self, key: str) -> File[Any]:
        """The staged object as a readable, seekable file (ranges fetched on demand). The storage opens names, and a
        staged key lies under its MINIO_KEY_PREFIX: it is opened by the name that key stands for."""
        name = self.settings.keys.name(key)
        if name is None or not self.owns(key):
            raise ValueError(f"{key!r} is not a key of the staging area {self.bucket}/{self.prefix}")
        return self.storage.open(name, "rb")

    # -- removing ----------------------------------------------------------------------------------------
    def delete(self, key: str) -> None:
        """Delete a staged object; one that is already gone is not an error."""
        self._connection().request("DELETE", self.bucket, key, payload_sha256=EMPTY_SHA256)

    def abort(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload (when there is one) and delete whatever got stored under the key."""
        if upload_id:
            MultipartUpload(self._connection(), self.bucket, key, upload_id).abort()
        self.delete(key)
