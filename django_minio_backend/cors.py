"""The bucket CORS rule that lets pages of MINIO_CORS_ALLOWED_ORIGINS upload straight to the bucket.

A direct upload is a cross-origin request from the page to the bucket (a form POST, or PUTs of parts), so the
bucket must answer the browser's preflight for the page's origin. `initialize_buckets` gives every bucket of an
alias with MINIO_CORS_ALLOWED_ORIGINS one rule, known by `CORS_RULE_ID`: those origins may GET, HEAD, PUT and
POST with any request header, and read the ETag. The bucket's other rules are kept as the server returned
them. Servers without bucket CORS (MinIO's community edition answers NotImplemented: its CORS is the
server-wide `MINIO_API_CORS_ALLOW_ORIGIN`, every origin by default) raise `ConfigRefused`.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Final

from .bucket_xml import ConfigDocument, ConfigRefused, child, name_of, namespace_of, tag, text_of

__all__ = ["CORS", "CORS_RULE_ID", "ConfigRefused", "with_cors_rule"]

CORS_RULE_ID: Final = "DjangoMinioBackendDirectUploads"
METHODS: Final = ("GET", "HEAD", "PUT", "POST")
EXPOSED: Final = ("ETag",)
MAX_AGE: Final = 3600  # seconds a browser may reuse a preflight's answer
CORS: Final = ConfigDocument("cors", "CORSConfiguration", "NoSuchCORSConfiguration")  # the bucket's CORS document


def with_cors_rule(document: ET.Element, origins: Sequence[str]) -> tuple[ET.Element, str] | None:
    """The document with our rule for `origins` and "added" or "updated", None when it is already there.
    Pure: `document` itself is left as it is."""
    ours = [rule for rule in document if name_of(rule) == "CORSRule" and text_of(rule, "ID") == CORS_RULE_ID]
    if len(ours) == 1 and _is_current(ours[0], origins):
        return None
    changed = copy.deepcopy(document)
    for rule in [rule for rule in changed if name_of(rule) == "CORSRule" and text_of(rule, "ID") == CORS_RULE_ID]:
        changed.remove(rule)
    _add_rule(changed, origins)
    return changed, "updated" if ours else "added"


def _add_rule(document: ET.Element, origins: Sequence[str]) -> None:
    namespace = namespace_of(document)
    rule = ET.SubElement(document, tag(namespace, "CORSRule"))
    ET.SubElement(rule, tag(namespace, "ID")).text = CORS_RULE_ID
    for origin in origins:
        ET.SubElement(rule, tag(namespace, "AllowedOrigin")).text = origin
    for method in METHODS:
        ET.SubElement(rule, tag(namespace, "AllowedMethod")).text = method
    ET.SubElement(rule, tag(namespace, "AllowedHeader")).text = "*"
    for header in EXPOSED:
        ET.SubElement(rule, tag(namespace, "ExposeHeader")).text = header
    ET.SubElement(rule, tag(namespace, "MaxAgeSeconds")).text = str(MAX_AGE)


def _is_current(rule: ET.Element, origins: Sequence[str]) -> bool:
    """Our rule as we would write it, in whatever order the server lists its elements."""

    def values(name: str) -> set[str]:
        return {(element.text or "").strip() for element in rule if name_of(element) == name}

    known = {"ID", "AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader", "MaxAgeSeconds"}
    return (
        {name_of(element) for element in rule} <= known
        and values("AllowedOrigin") == set(origins)
        and values("AllowedMethod") == set(METHODS)
        and values("AllowedHeader") == {"*"}
        and values("ExposeHeader") == set(EXPOSED)
        and child(rule, "MaxAgeSeconds") is not None
        and text_of(rule, "MaxAgeSeconds") == str(MAX_AGE)
    )
