"""The bucket lifecycle rules of this backend, merged into the bucket's own rules.

- Aborting incomplete multipart uploads: a failed upload is aborted by the backend, but when the process or
  the server dies first, the upload stays listed (its parts keep their space) until something aborts it, and no
  client can know about it afterwards. One rule, known by `ABORT_RULE_ID`, aborts every multipart upload
  `ABORT_AFTER_DAYS` after it started.
- Expiring staged direct uploads: a browser that uploads and never submits its form leaves an object under the
  alias's MINIO_DIRECT_UPLOAD_PREFIX. One rule per staging prefix (its ID starts with `STAGING_RULE_ID`) deletes
  such objects `STAGING_EXPIRY_DAYS` after they were written; a rule of ours for a prefix no alias uses any more is
  removed.

The bucket's other rules are kept exactly as the server returned them (bucket_xml.py edits the document in
place; minio-py 7.2 would drop, say, a size condition and widen an expiration rule to every object). A bucket whose
own rule already aborts incomplete uploads of every object is left alone, so a longer limit set there is respected.
Comparing is pure (`with_our_rules` edits a copy), so a dry run of `initialize_buckets` can say what would change.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Final, NamedTuple

from .bucket_xml import ConfigDocument, child, name_of, namespace_of, tag, text_of

__all__ = [
    "ABORT_AFTER_DAYS",
    "ABORT_RULE_ID",
    "LIFECYCLE",
    "STAGING_EXPIRY_DAYS",
    "STAGING_RULE_ID",
    "RuleChange",
    "with_our_rules",
]

ABORT_RULE_ID: Final = "DjangoMinioBackendAbortIncompleteUploads"
ABORT_AFTER_DAYS: Final = 1
STAGING_RULE_ID: Final = "DjangoMinioBackendExpireStagedUploads"
STAGING_EXPIRY_DAYS: Final = 1
LIFECYCLE: Final = ConfigDocument("lifecycle", "LifecycleConfiguration", "NoSuchLifecycleConfiguration")
_OUR_ELEMENTS: Final = frozenset({"ID", "Filter", "Prefix", "Status", "AbortIncompleteMultipartUpload", "Expiration"})


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


class RuleChange(NamedTuple):
    """One rule of ours that a write adds, updates or removes, and what it does."""

    verb: str  # "added", "updated" or "removed"
    rule: str  # e.g. "(incomplete multipart uploads aborted after 1 day)"

    @property
    def done(self) -> str:
        return f"lifecycle rule {self.verb} {self.rule}"

    @property
    def planned(self) -> str:
        return f"{_PLANNED[self.verb]} lifecycle rule {self.rule}"


_PLANNED: Final = {"added": "add", "updated": "update", "removed": "remove"}


def with_our_rules(
    document: ET.Element, staging_prefixes: Iterable[str] = ()
) -> tuple[ET.Element, list[RuleChange]] | None:
    """The document with this backend's rules in place and what changed, or None when nothing has to.
    Pure: `document` itself is left as it is."""
    changed = copy.deepcopy(document)
    changes = _merge_abort_rule(changed) + _merge_staging_rules(changed, sorted(set(staging_prefixes)))
    return (changed, changes) if changes else None


def _rules(document: ET.Element) -> list[ET.Element]:
    return [element for element in document if name_of(element) == "Rule"]


def _merge_abort_rule(document: ET.Element) -> list[RuleChange]:
    rules = _rules(document)
    ours = [rule for rule in rules if text_of(rule, "ID") == ABORT_RULE_ID]
    if any(_aborts_every_upload(rule) for rule in rules if rule not in ours):
        return []  # the bucket's own rule decides when incomplete uploads go
    if len(ours) == 1 and _is_current_abort_rule(ours[0]):
        return []
    for rule in ours:
        document.remove(rule)
    rule = _add_rule(document, ABORT_RULE_ID, "")
    abort = ET.SubElement(rule, tag(namespace_of(document), "AbortIncompleteMultipartUpload"))
    ET.SubElement(abort, tag(namespace_of(document), "DaysAfterInitiation")).text = str(ABORT_AFTER_DAYS)
    verb = "updated" if ours else "added"
    return [RuleChange(verb, f"(incomplete multipart uploads aborted after {_days(ABORT_AFTER_DAYS)})")]


def _merge_staging_rules(document: ET.Element, prefixes: list[str]) -> list[RuleChange]:
    """One current rule of ours per staging prefix; ours for other prefixes, changed or repeated, go."""
    ours = [rule for rule in _rules(document) if (text_of(rule, "ID") or "").startswith(STAGING_RULE_ID)]
    kept: set[str] = set()
    replaced: set[str] = set()
    changes: list[RuleChange] = []
    for rule in ours:
        prefix = _prefix(rule)
        if prefix in prefixes and prefix not in kept and _is_current_staging_rule(rule):
            kept.add(prefix)
            continue
        document.remove(rule)
        if prefix in prefixes:
            replaced.add(prefix)
        else:
            changes.append(RuleChange("removed", f"(uploads staged under {prefix!r})"))
    for prefix in prefixes:
        if prefix in kept and prefix not in replaced:
            continue
        if prefix not in kept:
            rule = _add_rule(document, f"{STAGING_RULE_ID} {prefix}"[:255], prefix)
            expiration = ET.SubElement(rule, tag(namespace_of(document), "Expiration"))
            ET.SubElement(expiration, tag(namespace_of(document), "Days")).text = str(STAGING_EXPIRY_DAYS)
        verb = "updated" if prefix in replaced else "added"
        changes.append(RuleChange(verb, f"(uploads staged under {prefix!r} expire after {_days(STAGING_EXPIRY_DAYS)})"))
    return changes


def _add_rule(document: ET.Element, rule_id: str, prefix: str) -> ET.Element:
    """A new enabled rule for the objects under `prefix` ("" for all), appended to the document."""
    namespace = namespace_of(document)
    rule = ET.SubElement(document, tag(namespace, "Rule"))
    ET.SubElement(rule, tag(namespace, "ID")).text = rule_id
    ET.SubElement(ET.SubElement(rule, tag(namespace, "Filter")), tag(namespace, "Prefix")).text = prefix
    ET.SubElement(rule, tag(namespace, "Status")).text = "Enabled"
    return rule


def _prefix(rule: ET.Element) -> str:
    """The prefix a rule's filter selects ("" for every object, or a filter of another kind)."""
    selector = child(rule, "Filter")
    found = text_of(selector, "Prefix") if selector is not None else text_of(rule, "Prefix")
    return found or ""


def _only_our_elements(rule: ET.Element) -> bool:
    selector = child(rule, "Filter")
    simple_filter = selector is None or all(name_of(part) == "Prefix" for part in selector)
    return simple_filter and {name_of(element) for element in rule} <= _OUR_ELEMENTS


def _is_current_abort_rule(rule: ET.Element) -> bool:
    """Our rule as we would write it (servers may spell an empty filter differently)."""
    abort = child(rule, "AbortIncompleteMultipartUpload")
    return (
        _aborts_every_upload(rule)
        and abort is not None
        and text_of(abort, "DaysAfterInitiation") == str(ABORT_AFTER_DAYS)
        and child(rule, "Expiration") is None
        and _only_our_elements(rule)
    )


def _is_current_staging_rule(rule: ET.Element) -> bool:
    expiration = child(rule, "Expiration")
    return (
        text_of(rule, "Status") == "Enabled"
        and expiration is not None
        and {name_of(part) for part in expiration} == {"Days"}
        and text_of(expiration, "Days") == str(STAGING_EXPIRY_DAYS)
        and child(rule, "AbortIncompleteMultipartUpload") is None
        and _only_our_elements(rule)
    )


def _aborts_every_upload(rule: ET.Element) -> bool:
    """An enabled rule aborting incomplete uploads, whose filter selects every object."""
    if text_of(rule, "Status") != "Enabled" or child(rule, "AbortIncompleteMultipartUpload") is None:
        return False
    legacy_prefix = child(rule, "Prefix")
    if legacy_prefix is not None and legacy_prefix.text:
        return False
    selector = child(rule, "Filter")
    return selector is None or all(name_of(part) == "Prefix" and not part.text for part in selector)
