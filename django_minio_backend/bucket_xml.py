"""A bucket's XML configuration documents (lifecycle, cors): read, edited in place, written back.

The document is kept exactly as the server returned it and only our own rules are replaced, never decoded into a
model that could drop what it does not know, so the bucket's other rules survive with every element they have.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final

from minio.error import S3Error

from .connection import S3Connection
from .signing import EMPTY_SHA256

__all__ = [
    "S3_NAMESPACE",
    "ConfigDocument",
    "ConfigRefused",
    "child",
    "name_of",
    "namespace_of",
    "tag",
    "text_of",
]

S3_NAMESPACE: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
# Answers of a server that has no such configuration, or will not let these credentials set it.
REFUSED_CODES: Final = frozenset({"NotImplemented", "MethodNotAllowed", "AccessDenied"})


class ConfigRefused(Exception):
    """The server does not support this configuration (`resource`: "lifecycle", "cors") or refuses to let us read
    or set it; `code` says which."""

    def __init__(self, code: str, resource: str) -> None:
        super().__init__(f"{resource}: {code}")
        self.code = code
        self.resource = resource


@dataclass(frozen=True, slots=True)
class ConfigDocument:
    """One kind of bucket configuration: its `?resource`, the root element of its document, and the error code of a
    bucket that has none."""

    resource: str  # "lifecycle", "cors"
    root: str  # "LifecycleConfiguration"
    missing_code: str  # "NoSuchLifecycleConfiguration"

    def empty(self) -> ET.Element:
        """A document with no rules, as a bucket without one (or not created yet) has."""
        return ET.Element(f"{{{S3_NAMESPACE}}}{self.root}")

    def read(self, connection: S3Connection, bucket: str) -> ET.Element:
        """The bucket's document, or an empty one when it has none. Raises ConfigRefused, or the server's error."""
        try:
            response = connection.request("GET", bucket, query=[(self.resource, "")], payload_sha256=EMPTY_SHA256)
        except S3Error as error:
            if error.code == self.missing_code:
                return self.empty()
            if error.code in REFUSED_CODES:
                raise ConfigRefused(error.code, self.resource) from error
            raise
        return ET.fromstring(response.data)

    def write(self, connection: S3Connection, bucket: str, document: ET.Element) -> None:
        """Replace the bucket's document. Raises ConfigRefused, or the server's error."""
        namespace = namespace_of(document)
        body = ET.tostring(document, encoding="utf-8", default_namespace=namespace or None)
        headers = {
            "Content-MD5": base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode(),
            "Content-Type": "application/xml",
        }
        try:
            connection.request(
                "PUT",
                bucket,
                query=[(self.resource, "")],
                headers=headers,
                body=body,
                payload_sha256=hashlib.sha256(body).hexdigest(),
            )
        except S3Error as error:
            if error.code in REFUSED_CODES:
                raise ConfigRefused(error.code, self.resource) from error
            raise


def tag(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}" if namespace else name


def namespace_of(element: ET.Element) -> str:
    return element.tag[1:].partition("}")[0] if element.tag.startswith("{") else ""


def name_of(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def child(element: ET.Element, name: str) -> ET.Element | None:
    return next((found for found in element if name_of(found) == name), None)


def text_of(element: ET.Element, name: str) -> str | None:
    found = child(element, name)
    return None if found is None else (found.text or "").strip()
