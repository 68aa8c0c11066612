"""Multipart uploads on the server: begin, send the parts (parts.py reads and sends them), complete, abort.

The first failure of a part stops the upload, and the caller (upload.py) aborts it and gets that failure's own
exception.

A CreateMultipartUpload whose answer was lost may have begun an upload on the server that nothing
would ever complete, so before it is sent again the uploads of that name begun meanwhile are aborted.
"""

from __future__ import annotations

import hashlib
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Final, TypeVar
from xml.sax.saxutils import escape

import urllib3
from minio.error import S3Error

from .connection import CHECKSUM_HEADER, S3Connection, error_from_xml
from .parts import MAX_PARTS, PartReader, PartSender
from .signing import EMPTY_SHA256, UNSIGNED_PAYLOAD

__all__ = ["MAX_PARTS", "MultipartUpload", "multipart_etag", "xml_answer"]

logger = logging.getLogger(__name__)

CLOCK_SLACK: Final = 2.0  # seconds either side of a lost CreateMultipartUpload (Initiated is in whole seconds)

T = TypeVar("T")


class MultipartUpload:
    """One multipart upload of one object: begun, its parts sent, then completed or aborted."""

    def __init__(self, connection: S3Connection, bucket: str, name: str, upload_id: str) -> None:
        self._connection = connection
        self._bucket = bucket
        self._name = name
        self.upload_id = upload_id
        self._checksums: dict[int, str] = {}  # part number -> the checksum it was sent with, for the completion

    @classmethod
    def begin(
        cls,
        connection: S3Connection,
        bucket: str,
        name: str,
        content_type: str,
        *,
        headers: Mapping[str, str] | None = None,
        checksums: bool = True,
    ) -> MultipartUpload:
        """CreateMultipartUpload (the object's headers go on it); after a lost answer, uploads of the name begun
        meanwhile are aborted first. `checksums` announces that every part carries its CRC32 (over plain HTTP);
        parts this process does not send (a browser's, a server-side copy's) carry none, so they begin without."""
        started = time.time()
        response = connection.request(
            "POST",
            bucket,
            name,
            query=(("uploads", ""),),
            headers={
                **(headers or {}),
                "Content-Type": content_type,
                **(connection.multipart_checksum() if checksums else {}),
            },
            payload_sha256=EMPTY_SHA256,
            idempotent=False,  # a repeat after a lost answer would leave an orphaned upload behind ...
            settle=lambda: _abort_begun(connection, bucket, name, started),  # ... unless it is aborted first
        )
        upload_id = xml_answer(response, bucket, name).findtext("{*}UploadId")
        if not upload_id:
            raise OSError(f"The server returned no UploadId for {bucket}/{name}")
        return cls(connection, bucket, name, upload_id)

    def send_parts(self, parts: PartReader, workers: int) -> list[str]:
        """Upload parts on the shared pool, reading the next one only when one of workers + 1 slots is free
        (so at most workers + 1 part buffers exist; a finished part's buffer takes the next part). Returns
        the parts' ETags in order."""
        sender = self.sender(workers, parts.recycle)
        try:
            while True:
                sender.reserve()
                try:
                    data = parts.next_part()
                except BaseException:
                    sender.unreserve()
                    raise
                if data is None:
                    sender.unreserve()
                    return sender.finish()
                sender.send(data)
        except BaseException:
            sender.cancel()
            raise

    def sender(self, workers: int, recycle: Callable[[memoryview], None]) -> PartSender:
        """A PartSender for this upload's parts; `recycle` takes back each part's buffer once it is sent."""
        return PartSender(self._send_part, f"{self._bucket}/{self._name}", workers, recycle)

    def _send_part(self, number: int, data: memoryview) -> str:
        checksum = self._connection.body_checksum(data)
        response = self._connection.request(
            "PUT",
            self._bucket,
            self._name,
            query=(("partNumber", str(number)), ("uploadId", self.upload_id)),
            headers=checksum,
            body=data,
            payload_sha256=UNSIGNED_PAYLOAD,
        )
        if checksum:
            self._checksums[number] = checksum[CHECKSUM_HEADER]
        etag = response.headers.get("ETag")
        if not etag:
            raise OSError(f"The server returned no ETag for part {number} of {self._bucket}/{self._name}")
        return str(etag)

    def complete(self, etags: list[str], precondition: Mapping[str, str], settle: Callable[[], bool]) -> str:
        """CompleteMultipartUpload, sent once (`settle` as for `S3Connection.request`); the stored object's ETag."""
        document = "".join(
            f"<Part><PartNumber>{number}</PartNumber><ETag>{escape(etag)}</ETag>{self._checksum_element(number)}</Part>"
            for number, etag in enumerate(etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{document}</CompleteMultipartUpload>".encode()
        response = self._connection.request(
            "POST",
            self._bucket,
            self._name,
            query=(("uploadId", self.upload_id),),
            headers={"Content-Type": "application/xml", **precondition},
            body=body,
            payload_sha256=hashlib.sha256(body).hexdigest(),
            idempotent=False,
            settle=settle,
        )
        if b"<Error>" in response.data[:512]:  # S3 may report a failed completion with status 200
            raise error_from_xml(response, response.data, self._bucket, self._name)
        return (xml_answer(response, self._bucket, self._name).findtext("{*}ETag") or "").strip('"')

    def _checksum_element(self, number: int) -> str:
        """A part's checksum, which S3 wants back on completion when the upload announced checksums."""
        checksum = self._checksums.get(number)
        return f"<ChecksumCRC32>{checksum}</ChecksumCRC32>" if checksum else ""

    def abort(self) -> None:
        """Best effort: a failed abort is logged, never raised over the error that caused it."""
        _abort(self._connection, self._bucket, self._name, self.upload_id)


def _abort(connection: S3Connection, bucket: str, name: str, upload_id: str) -> None:
    try:
        connection.request("DELETE", bucket, name, query=(("uploadId", upload_id),), payload_sha256=EMPTY_SHA256)
    except S3Error as error:
        if error.code != "NoSuchUpload":
            logger.warning("Could not abort multipart upload %s of %s/%s: %s", upload_id, bucket, name, error)
    except Exception as error:  # noqa: BLE001 - the caller's original error matters more
        logger.warning("Could not abort multipart upload %s of %s/%s: %r", upload_id, bucket, name, error)


def _abort_begun(connection: S3Connection, bucket: str, name: str, asked_at: float) -> bool:
    """Abort every upload of `name` the server began since `asked_at` (this process's clock, corrected by
    the server's Date): after a CreateMultipartUpload whose answer was lost, one of them may be ours, and
    nothing else would ever complete or abort it. False when the uploads could not be listed."""
    query = [("uploads", ""), ("prefix", name)]
    try:
        while True:
            response = connection.request("GET", bucket, query=query, payload_sha256=EMPTY_SHA256)
            skew = _server_clock(response) - time.time()
            earliest, latest = asked_at + skew - CLOCK_SLACK, time.time() + skew + CLOCK_SLACK
            listing = xml_answer(response, bucket, name)
            for upload in listing.iterfind("{*}Upload"):
                upload_id = upload.findtext("{*}UploadId")
                begun = _timestamp(upload.findtext("{*}Initiated"))
                if upload.findtext("{*}Key") == name and upload_id and earliest <= begun <= latest:
                    logger.info("Aborting upload %s of %s/%s: its creation went unanswered", upload_id, bucket, name)
                    _abort(connection, bucket, name, upload_id)
            key_marker, id_marker = listing.findtext("{*}NextKeyMarker"), listing.findtext("{*}NextUploadIdMarker")
            if listing.findtext("{*}IsTruncated") != "true" or key_marker != name or not id_marker:
                return True  # the uploads of `name` are listed first: a later page holds longer keys
            query = [*query[:2], ("key-marker", key_marker), ("upload-id-marker", id_marker)]
    except Exception as error:  # noqa: BLE001 - the lost answer's own failure is what the caller gets
        logger.warning("Could not look for an upload of %s/%s begun without an answer: %r", bucket, name, error)
        return False


def multipart_etag(etags: list[str]) -> str | None:
    """S3's ETag of a completed multipart upload: MD5 of the parts' binary MD5s, "-", the number of parts."""
    try:
        digests = b"".join(bytes.fromhex(etag.strip('"')) for etag in etags)
    except ValueError:
        return None  # a part ETag that is not an MD5 (e.g. under server-side encryption)
    if len(digests) != 16 * len(etags):
        return None
    return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(etags)}"


def xml_answer(response: urllib3.BaseHTTPResponse, bucket: str, name: str) -> ET.Element:
    """The XML document of a 2xx answer; anything else (a proxy's HTML page, a cut-off body) is an OSError."""
    try:
        return ET.fromstring(response.data)
    except ET.ParseError as error:
        raise OSError(
            f"The server's answer for {bucket}/{name} is not XML ({error}): {response.data[:200]!r}"
        ) from error


def _server_clock(response: urllib3.BaseHTTPResponse) -> float:
    """The server's time from its Date header (this process's clock when it sent none)."""
    try:
        return parsedate_to_datetime(response.headers.get("Date", "")).timestamp()
    except (TypeError, ValueError):
        return time.time()


def _timestamp(text: str | None) -> float:
    """An ISO 8601 time as S3 lists it (UTC "Z" or an offset); NaN, which no range holds, when unreadable."""
    try:
        return datetime.fromisoformat(text or "").timestamp()
    except ValueError:
        return float("nan")
