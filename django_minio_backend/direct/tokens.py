"""The signed values that travel through the browser, each under its own salt (Django's signing, SECRET_KEY).

- `FieldSpec`: rendered into the widget; tells the ticket view where to stage and what to accept. It cannot be
  forged, so the browser cannot raise its own size limit.
- `Ticket`: one upload in progress (its key, its multipart upload, its size); it expires.
- `Staged`: what the form submits: the staged object and the file's original name; it expires.

A value that was tampered with raises `TamperedToken`, a SuspiciousOperation, which Django answers with 400.
An expired one raises `signing.SignatureExpired`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, Final, TypeVar

from django.core import signing
from django.core.exceptions import SuspiciousOperation

from .rules import UploadRules

__all__ = ["FieldSpec", "Staged", "TamperedToken", "Ticket", "dump", "load"]

_SALT: Final = "django_minio_backend.direct."


class TamperedToken(SuspiciousOperation):
    """A signed value whose signature does not match: forged or damaged, never a user's mistake."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    alias: str
    bucket: str
    max_size: int
    min_size: int
    content_types: tuple[str, ...]

    @property
    def rules(self) -> UploadRules:
        return UploadRules(max_size=self.max_size, min_size=self.min_size, content_types=self.content_types)


@dataclass(frozen=True, slots=True)
class Ticket:
    alias: str
    bucket: str
    key: str
    name: str  # the file's original name
    content_type: str
    size: int
    upload_id: str  # "" for a single POST
    part_size: int
    user: str  # the primary key of the user it was given to, "" for an anonymous one


@dataclass(frozen=True, slots=True)
class Staged:
    alias: str
    bucket: str
    key: str
    name: str
    content_type: str


Token = TypeVar("Token", FieldSpec, Ticket, Staged)


def dump(value: FieldSpec | Ticket | Staged) -> str:
    """Sign a value (with a timestamp) for the browser to hand back."""
    return signing.dumps(asdict(value), salt=_SALT + type(value).__name__, compress=True)


def load(kind: type[Token], token: object, max_age: timedelta | None = None) -> Token:
    """The value a token signs; TamperedToken for a forged, damaged or mistyped one, SignatureExpired when it is
    older than `max_age`."""
    if not isinstance(token, str) or not token:
        raise TamperedToken(f"a {kind.__name__} token must be a non-empty string")
    try:
        data: Any = signing.loads(token, salt=_SALT + kind.__name__, max_age=max_age)
    except signing.SignatureExpired:
        raise
    except signing.BadSignature as error:
        raise TamperedToken(f"bad {kind.__name__} token: {error}") from None
    try:
        if "content_types" in data:
            data["content_types"] = tuple(data["content_types"])
        return kind(**data)
    except (TypeError, ValueError) as error:  # signed by us, but by another version of this code
        raise TamperedToken(f"unreadable {kind.__name__} token: {error}") from None
