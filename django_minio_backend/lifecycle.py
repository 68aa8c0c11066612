"""The bucket lifecycle rule that aborts incomplete multipart uploads, merged into the bucket's own rules.

A failed upload is aborted by the backend, but when the process or the server dies first, the upload
stays listed (its parts keep their space) until something aborts it, and no client can know about it
afterwards. `initialize_buckets` therefore asks the server to do it: one rule, known by `ABORT_RULE_ID`,
aborting every multipart upload `ABORT_AFTER_DAYS` after it started.

The bucket's other rules are kept exactly as the server returned them: the XML document is edited, never
decoded into a model that could drop what it does not know (minio-py 7.2 would drop, say, a size condition
and widen an expiration rule to every object). A bucket whose own rule already aborts incomplete uploads
of every object is left alone, so a longer limit set there is respected.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import xml.etree.ElementTree as ET
from typing import Final

from minio.error import S3Error

from .connection import S3Connection
from .signing import EMPTY_SHA256

__all__ = [
    "ABORT_AFTER_DAYS",
    "ABORT_RULE_ID",
    "LifecycleRefused",
    "empty_rules",
    "ensure_abort_rule",
    "read_rules",
    "with_abort_rule",
    "write_rules",
]

ABORT_RULE_ID: Final = "DjangoMinioBackendAbortIncompleteUploads"
ABORT_AFTER_DAYS: Final = 1
S3_NAMESPACE: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
# Answers of a server that has no lifecycle rules, or will not let these credentials set them.
REFUSED_CODES: Final = frozenset({"NotImplemented", "MethodNotAllowed", "AccessDenied"})
_QUERY: Final = [("lifecycle", "")]
_OUR_ELEMENTS: Final = frozenset({"ID", "Filter", "Prefix", "Status", "AbortIncompleteMultipartUpload"})


class LifecycleRefused(Exception):
    """The server does not support lifecycle rules or refuses to let us read or set them; `code` says which."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def ensure_abort_rule(connection: S3Connection, bucket: str) -> str | None:
    """Make `bucket` abort incomplete multipart uploads; returns "added" or "updated", or None when
    nothing had to change. Raises LifecycleRefused, or the server's error: nothing is written then."""
    changed = with_abort_rule(read_rules(connection, bucket))
    if changed is None:
        return None
    document, done = changed
    write_rules(connection, bucket, document)
    return done


def with_abort_rule(document: ET.Element) -> tuple[ET.Element, str] | None:
    """The rules with ours in place and "added" or "updated", or None when `document` needs no change.
    Pure: `document` itself is left as it is, so a dry run can compare without writing."""
    rules = [element for element in document if _name(element) == "Rule"]
    ours = [rule for rule in rules if _text(rule, "ID") == ABORT_RULE_ID]
    if any(_aborts_every_upload(rule) for rule in rules if rule not in ours):
        return None  # the bucket's own rule decides when incomplete uploads go
    if len(ours) == 1 and _is_current(ours[0]):
        return None
    changed = copy.deepcopy(document)
    for rule in [element for element in changed if _text(element, "ID") == ABORT_RULE_ID]:
        changed.remove(rule)
    changed.append(_abort_rule(_namespace(changed)))
    return changed, "updated" if ours else "added"


def empty_rules() -> ET.Element:
    """The rules of a bucket that has none (or does not exist yet)."""
    return ET.Element(f"{{{S3_NAMESPACE}}}LifecycleConfiguration")


def read_rules(connection: S3Connection, bucket: str) -> ET.Element:
    """The bucket's lifecycle document, or an empty one when it has none."""
    try:
        response = connection.request("GET", bucket, query=_QUERY, payload_sha256=EMPTY_SHA256)
    except S3Error as error:
        if error.code == "NoSuchLifecycleConfiguration":
            return empty_rules()
        if error.code in REFUSED_CODES:
            raise LifecycleRefused(error.code) from error
        raise
    return ET.fromstring(response.data)


def write_rules(connection: S3Connection, bucket: str, document: ET.Element) -> None:
    """Replace the bucket's lifecycle document."""
    namespace = _namespace(document)
    body = ET.tostring(document, encoding="utf-8", default_namespace=namespace or None)
    headers = {
        "Content-MD5": base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode(),
        "Content-Type": "application/xml",
    }
    try:
        connection.request(
            "PUT", bucket, query=_QUERY, headers=headers, body=body, payload_sha256=hashlib.sha256(body).hexdigest()
        )
    except S3Error as error:
        if error.code in REFUSED_CODES:
            raise LifecycleRefused(error.code) from error
        raise


def _abort_rule(namespace: str) -> ET.Element:
    def tag(name: str) -> str:
        return f"{{{namespace}}}{name}" if namespace else name

    rule = ET.Element(tag("Rule"))
    ET.SubElement(rule, tag("ID")).text = ABORT_RULE_ID
    ET.SubElement(ET.SubElement(rule, tag("Filter")), tag("Prefix")).text = ""
    ET.SubElement(rule, tag("Status")).text = "Enabled"
    abort = ET.SubElement(rule, tag("AbortIncompleteMultipartUpload"))
    ET.SubElement(abort, tag("DaysAfterInitiation")).text = str(ABORT_AFTER_DAYS)
    return rule


def _is_current(rule: ET.Element) -> bool:
    """Our rule as we would write it (servers may spell an empty filter differently)."""
    abort = _child(rule, "AbortIncompleteMultipartUpload")
    return (
        _aborts_every_upload(rule)
        and abort is not None
        and _text(abort, "DaysAfterInitiation") == str(ABORT_AFTER_DAYS)
        and {_name(child) for child in rule} <= _OUR_ELEMENTS
    )


def _aborts_every_upload(rule: ET.Element) -> bool:
    """An enabled rule aborting incomplete uploads, whose filter selects every object."""
    if _text(rule, "Status") != "Enabled" or _child(rule, "AbortIncompleteMultipartUpload") is None:
        return False
    legacy_prefix = _child(rule, "Prefix")
    if legacy_prefix is not None and legacy_prefix.text:
        return False
    selector = _child(rule, "Filter")
    return selector is None or all(_name(part) == "Prefix" and not part.text for part in selector)


def _namespace(element: ET.Element) -> str:
    return element.tag[1:].partition("}")[0] if element.tag.startswith("{") else ""


def _name(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((child for child in element if _name(child) == name), None)


def _text(element: ET.Element, name: str) -> str | None:
    found = _child(element, name)
    return None if found is None else (found.text or "").strip()
