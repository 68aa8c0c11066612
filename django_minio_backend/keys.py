"""Object keys of one alias: MINIO_KEY_PREFIX in front of the names Django sees, and taken off again.

Every place that turns a name into a key or a listed key back into a name (the storage, the static
listing, the orphan cleaner, the URL builders) asks an `ObjectKeys`; none adds the prefix by hand. A key
outside the prefix has no name: listings never show it to Django and the orphan cleaner never touches it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from django.core.exceptions import SuspiciousFileOperation

from .names import MAX_KEY_BYTES

__all__ = ["ObjectKeys", "normalise_prefix", "outermost", "overlap", "prefix_problem"]

# S3's "safe" key characters less '*', which a bucket policy's Resource reads as a wildcard (as it reads '?'
# and '${...}', also outside this set): a prefix must grant exactly itself in initialize_buckets' policy.
_SEGMENT: Final = re.compile(r"[A-Za-z0-9!_.'()-]+")


def prefix_problem(value: str) -> str | None:
    """Why `value` cannot be a key prefix, or None. "" is no prefix; a final "/" is optional."""
    if value == "":
        return None
    if value.startswith("/"):
        return "must be relative (no leading '/')"
    for segment in value.removesuffix("/").split("/"):
        if segment in ("", ".", ".."):
            return f"must not contain an empty, '.' or '..' segment (got {value!r})"
        if not _SEGMENT.fullmatch(segment):
            return f"may contain only letters, digits and ! _ . ' ( ) - between slashes (got {value!r})"
    if len(normalise_prefix(value)) >= MAX_KEY_BYTES:
        return f"must be shorter than {MAX_KEY_BYTES} characters, leaving room for names"
    return None


def normalise_prefix(value: str) -> str:
    """A valid prefix ending with exactly one '/' ("" stays "")."""
    return value if value == "" or value.endswith("/") else value + "/"


class ObjectKeys:
    """Maps names (as Django stores them) to object keys under `prefix` and back; `prefix` is normalised."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"ObjectKeys(prefix={self.prefix!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectKeys) and other.prefix == self.prefix

    def __hash__(self) -> int:
        return hash(self.prefix)

    def key(self, name: str) -> str:
        """The key of a cleaned name; SuspiciousFileOperation when the prefix makes it longer than S3 allows."""
        if not self.prefix:
            return name
        key = self.prefix + name
        if (len(key) if key.isascii() else len(key.encode("utf-8", "surrogatepass"))) > MAX_KEY_BYTES:
            raise SuspiciousFileOperation(
                f"Invalid object name {name!r}: with MINIO_KEY_PREFIX {self.prefix!r} the key is longer than "
                f"{MAX_KEY_BYTES} bytes in UTF-8"
            )
        return key

    def stored_key(self, name: str) -> str:
        """The key a name read back from a database row stands for, unchecked: rows may hold anything."""
        return self.prefix + name

    def name(self, key: str) -> str | None:
        """The name of a listed key; None for a key outside the prefix (or the prefix itself)."""
        if not self.prefix:
            return key
        if key.startswith(self.prefix) and len(key) > len(self.prefix):
            return key[len(self.prefix) :]
        return None


def overlap(first: str, second: str) -> bool:
    """True when two key prefixes share keys: one lies inside the other ("" holds every key)."""
    return first.startswith(second) or second.startswith(first)


def outermost(prefixes: Iterable[str]) -> list[str]:
    """The prefixes that lie inside no other one, sorted: listing these lists every key under any of them once."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes)):  # a prefix sorts right after the prefixes it lies inside
        if not kept or not prefix.startswith(kept[-1]):
            kept.append(prefix)
    return kept
