"""Moving a staged upload to its final name: a server-side copy, create-only like `save()`, then the staged
object is deleted. The bytes never pass through Django.

A taken name moves the copy to the storage's alternative name (the server refuses the conditional copy, so a
concurrent save of that name is never overwritten), exactly as `save()` does. Objects over S3's 5 GiB limit
of one CopyObject are copied in parts (UploadPartCopy), completed create-only.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Final

import urllib3
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from minio.error import S3Error

from ..connection import S3Connection, error_from_xml
from ..multipart import MultipartUpload
from ..names import clean_name, refuse_backslash
from ..signing import EMPTY_SHA256, quote_object_key
from ..storage import MinioBackend
from ..upload import TAKEN_CODES, Uploader, WriteMode
from .staging import StagedObject, StagingArea

__all__ = ["COPY_PART_SIZE", "MAX_SINGLE_COPY", "move_staged"]

logger = logging.getLogger(__name__)

MAX_SINGLE_COPY: Final = 5 * 1024**3  # S3 refuses a larger CopyObject
COPY_PART_SIZE: Final = 1024**3  # server-side parts cost no memory here: few, large ones


def move_staged(
    staging: StagingArea,
    key: str,
    target: Storage,
    name: str,
    *,
    max_length: int | None = None,
    single_copy_limit: int = MAX_SINGLE_COPY,
    copy_part_size: int = COPY_PART_SIZE,
) -> str:
    """Copy the staged object `key` to `name` in `target` (or the next free alternative name, unless the storage
    replaces existing objects), delete the staged object, and return the name used. The copy gets the headers a
    save() of `name` would send (the content type from the name, MINIO_OBJECT_PARAMETERS, get_object_parameters),
    never the ones the browser sent, and lands under the target's MINIO_KEY_PREFIX."""
    if not isinstance(target, MinioBackend) or not _same_server(staging, target):
        raise ImproperlyConfigured(
            "A direct upload is moved by a copy inside the server: the field's storage must be a MinioBackend "
            f"with the endpoint and credentials of STORAGES[{staging.alias!r}]"
        )
    name = clean_name(name)
    refuse_backslash(name)
    if max_length is not None and len(name) > max_length:
        name = target.get_available_name(name, max_length)
    found = staging.inspect(key)
    if found is None:
        raise FileNotFoundError(f"The staged upload {staging.bucket}/{key} is gone (expired or cancelled)")
    source = f"/{quote_object_key(staging.bucket)}/{quote_object_key(key)}"
    copier = _Copier(target, source)
    create_only = not target.replace_existing

    def copy(target_name: str) -> str | None:
        content_type, extra = target._object_headers(target_name)
        headers = {"Content-Type": content_type, **extra}
        destination = target.settings.keys.key(target_name)
        if found.size > single_copy_limit:
            return copier.in_parts(destination, found, copy_part_size, headers, create_only=create_only)
        return copier.whole(destination, headers, create_only=create_only)

    name, etag = target._under_free_name(name, max_length, copy, target.bucket)
    try:
        staging.delete(key)
    except Exception as error:  # noqa: BLE001 - the file is saved; the staged copy expires on its own
        logger.warning("Could not delete the staged upload %s/%s: %r", staging.bucket, key, error)
    target._remember_etag(name, etag)
    return name


def _same_server(staging: StagingArea, target: MinioBackend) -> bool:
    mine, theirs = staging.settings, target.settings
    return (mine.endpoint, mine.use_https, mine.credentials_id) == (
        theirs.endpoint,
        theirs.use_https,
        theirs.credentials_id,
    )


class _Copier:
    """Server-side copies of one source object into the bucket of `target`, over one connection; create-only as the
    storage's own writes (upload.Uploader: If-None-Match, or a HEAD first on a server remembered to lack it)."""

    def __init__(self, target: MinioBackend, source: str) -> None:
        self._connection = S3Connection(target.settings)
        self._uploader = Uploader(target.settings, target.bucket, self._connection)
        self._bucket = target.bucket
        self._source = source  # "/bucket/key", percent-encoded

    def whole(self, name: str, stored: Mapping[str, str], *, create_only: bool) -> str | None:
        """One CopyObject storing `stored` headers instead of the source's; None when a create-only copy finds the
        name taken."""
        headers = {"x-amz-copy-source": self._source, "x-amz-metadata-directive": "REPLACE", **stored}

        def send(precondition: Mapping[str, str]) -> str:
            response = self._connection.request(
                "PUT",
                self._bucket,
                name,
                headers={**headers, **precondition},
                payload_sha256=EMPTY_SHA256,
                idempotent=not precondition,  # an unconditional copy stores the same bytes again
                settle=(lambda: self._absent(name)) if precondition else None,
            )
            return _result_etag(response, self._bucket, name)

        mode = WriteMode.CREATE_ONLY if create_only else WriteMode.REPLACE
        return self._uploader.write_once(name, send, mode=mode, can_resend=True)

    def in_parts(
        self,
        name: str,
        found: StagedObject,
        part_size: int,
        stored: Mapping[str, str],
        *,
        create_only: bool,
    ) -> str | None:
        """UploadPartCopy of consecutive ranges into an upload with `stored` headers, completed create-only; None
        when the name is taken."""
        bucket = self._bucket
        upload = MultipartUpload.begin(
            self._connection, bucket, name, stored["Content-Type"], headers=stored, checksums=False
        )
        try:
            etags = []
            for number, start in enumerate(range(0, found.size, part_size), start=1):
                end = min(start + part_size, found.size) - 1
                query = (("partNumber", str(number)), ("uploadId", upload.upload_id))
                headers = {"x-amz-copy-source": self._source, "x-amz-copy-source-range": f"bytes={start}-{end}"}
                response = self._connection.request(
                    "PUT", bucket, name, query=query, headers=headers, payload_sha256=EMPTY_SHA256
                )
                etags.append(_result_etag(response, bucket, name))
            precondition = {"If-None-Match": "*"} if create_only else {}
            return upload.complete(etags, precondition, lambda: self._absent(name))
        except S3Error as error:
            upload.abort()
            if error.code in TAKEN_CODES:
                return None
            raise
        except BaseException:
            upload.abort()
            raise

    def _absent(self, name: str) -> bool:
        """After a lost answer: sending again is safe only while nothing is stored under the name."""
        return self._uploader.stored(name) is None


def _result_etag(response: urllib3.BaseHTTPResponse, bucket: str, name: str) -> str:
    """The ETag of a CopyObject or UploadPartCopy result; S3 may report a failed copy with status 200."""
    data = response.data
    if b"<Error>" in data[:512]:
        raise error_from_xml(response, data, bucket, name)
    try:
        etag = ET.fromstring(data).findtext("{*}ETag")
    except ET.ParseError as error:
        raise OSError(f"The server's answer to a copy into {bucket}/{name} is not XML: {data[:200]!r}") from error
    return (etag or str(response.headers.get("ETag", ""))).strip('"')
