"""Object and bucket names: validation of the keys Django hands us, S3 bucket naming rules, date-based upload paths."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.core.exceptions import SuspiciousFileOperation

MAX_KEY_BYTES = 1024


def clean_name(name: str) -> str:
    """Return `name` as an S3 key, or raise SuspiciousFileOperation.

    Keys are POSIX-style and relative. Traversal, absolute paths, empty or `.` segments, NUL bytes and
    lone surrogates (which UTF-8 cannot encode) are refused rather than silently rewritten, so two
    different inputs never map to one key.
    Runs on every url() call, so valid names pass a few substring tests and only suspect ones are
    examined segment by segment (for the precise message).
    """
    if isinstance(name, str) and name and "\x00" not in name and name[1:2] != ":":
        wrapped = f"/{name}/"  # every segment between slashes, so one test per bad segment kind
        if (
            "//" not in wrapped
            and "/./" not in wrapped
            and "/../" not in wrapped
            and (len(name) <= MAX_KEY_BYTES if name.isascii() else _utf8_length(name) <= MAX_KEY_BYTES)
        ):
            return name
    _refuse(name)
    return name  # not reached for a bad name: _refuse raises


def _utf8_length(name: str) -> int:
    """Bytes of the key in UTF-8; a lone surrogate (which no key can hold) counts as too long."""
    try:
        return len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return MAX_KEY_BYTES + 1


def _refuse(name: object) -> None:
    """Raise the precise error for a name the fast checks in clean_name did not accept."""
    if not isinstance(name, str) or not name:
        raise SuspiciousFileOperation(f"Invalid object name {name!r}: empty")
    if "\x00" in name:
        raise SuspiciousFileOperation(f"Invalid object name {name!r}: contains a NUL byte")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise SuspiciousFileOperation(f"Invalid object name {name!r}: contains a lone surrogate") from None
    if name.startswith("/") or (len(name) > 1 and name[1] == ":" and name[0].isalpha()):
        raise SuspiciousFileOperation(f"Detected path traversal attempt in {name!r}: absolute path")
    for part in name.split("/"):
        if part == "..":
            raise SuspiciousFileOperation(f"Detected path traversal attempt in {name!r}")
        if part in ("", "."):
            raise SuspiciousFileOperation(f"Invalid object name {name!r}: empty or '.' path segment")
    if len(name.encode("utf-8")) > MAX_KEY_BYTES:
        raise SuspiciousFileOperation(f"Invalid object name: longer than {MAX_KEY_BYTES} bytes in UTF-8")


def clean_prefix(path: str) -> str:
    """A listing prefix: '' for the bucket root, else a cleaned name ending with '/'."""
    if path in ("", "/", "."):
        return ""
    return clean_name(path.rstrip("/")) + "/"


def refuse_backslash(name: str) -> None:
    """For names a save creates. Some servers (SeaweedFS) store `a\\b` as `a/b`, so a row would name a key
    that no listing shows. Not part of clean_name: objects stored earlier under such names stay readable."""
    if "\\" in name:
        raise SuspiciousFileOperation(
            f"Invalid object name {name!r}: contains a backslash, which some S3 servers store as '/'"
        )


def get_iso_date() -> str:
    """Today's date in UTC as YYYY-MM-DD."""
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%d")


def iso_date_prefix(_instance: Any, filename: str) -> str:
    """`upload_to` callable storing files under a UTC date folder: `YYYY-MM-DD/filename`."""
    return f"{get_iso_date()}/{filename}"


_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: object) -> str | None:
    """Why `name` breaks the S3 bucket naming rules, or None when it follows them."""
    if not isinstance(name, str):
        return f"must be a string, not {type(name).__name__}"
    if not 3 <= len(name) <= 63:
        return "must be 3 to 63 characters long"
    if not _BUCKET_CHARS.fullmatch(name):
        return "may contain only lowercase letters, digits, '.' and '-'"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must begin and end with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "must not contain '..', '.-' or '-.'"
    if _IPV4.fullmatch(name):
        return "must not look like an IP address"
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return "uses a prefix or suffix that S3 reserves"
    return None
