"""Object headers: MINIO_OBJECT_PARAMETERS and `get_object_parameters()` checked and turned into the HTTP headers
every upload of an object sends (Cache-Control, Content-Disposition, ..., x-amz-meta-*).

The alias's parameters are turned into headers once, when its settings are parsed; a storage's per-object
parameters are merged over them header by header, so a per-object `Metadata` adds to the alias's metadata and
any other key replaces the alias's value. The content type is never a setting: it follows each name, and only
`get_object_parameters()` (server-side code) may set it, never what an uploading client declares.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Final

__all__ = ["CONTENT_TYPE", "OCTET_STREAM", "PARAMETERS", "content_type_for", "object_headers", "upload_headers"]

# parameter -> the header it is sent as
PARAMETERS: Final = {
    "CacheControl": "Cache-Control",
    "ContentDisposition": "Content-Disposition",
    "ContentEncoding": "Content-Encoding",
    "ContentLanguage": "Content-Language",
    "Expires": "Expires",
}
METADATA: Final = "Metadata"
CONTENT_TYPE: Final = "ContentType"  # per object only (get_object_parameters)
CONTENT_TYPE_HEADER: Final = "Content-Type"
METADATA_HEADER_PREFIX: Final = "x-amz-meta-"
MAX_METADATA_BYTES: Final = 2048  # S3's limit on user-defined metadata: keys and values, in UTF-8
OCTET_STREAM: Final = "application/octet-stream"

_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP field name (RFC 9110 token)
_VISIBLE: Final = re.compile(r"[\x20-\x7e]*")  # printable US-ASCII: no CR, LF or other control character


def content_type_for(name: str) -> str:
    """The type an object is stored with, from its name's extension; never what an uploading client declares."""
    return mimetypes.guess_type(name)[0] or OCTET_STREAM


def upload_headers(
    name: str, alias_headers: dict[str, str], parameters: Mapping[str, object], owner: str
) -> tuple[str, dict[str, str]]:
    """The content type and the other headers an upload of `name` sends: the alias's headers (MINIO_OBJECT_PARAMETERS,
    parsed once) with the storage's per-object `parameters` (`owner.get_object_parameters(name)`) merged over them.

    The content type follows the name unless the parameters set it, never the uploaded file's own `content_type`:
    that is what the client declared, and in a public bucket a client must not have `evil.png` served as text/html."""
    content_type = content_type_for(name)
    if not parameters:
        return content_type, alias_headers
    try:
        own = object_headers(parameters, per_object=True)
    except ValueError as error:
        raise ValueError(f"{owner}.get_object_parameters({name!r}) {error}") from None
    content_type = own.pop(CONTENT_TYPE_HEADER, content_type)
    return content_type, {**alias_headers, **own}


def object_headers(parameters: Mapping[str, object], *, per_object: bool = False) -> dict[str, str]:
    """The headers `parameters` ask for; ValueError saying what is wrong with them. `per_object` also allows
    ContentType (get_object_parameters may set it; the setting may not)."""
    if not isinstance(parameters, Mapping):
        raise ValueError(f"must be a dict, not {type(parameters).__name__}")
    headers: dict[str, str] = {}
    for key, value in parameters.items():
        if key in PARAMETERS:
            headers[PARAMETERS[key]] = _value(key, value)
        elif key == METADATA:
            headers.update(_metadata(value))
        elif key == CONTENT_TYPE and per_object:
            headers[CONTENT_TYPE_HEADER] = _value(key, value)
        elif key == CONTENT_TYPE:
            raise ValueError(
                "may not set ContentType: it follows each object's name; a storage subclass may set it per "
                "object in get_object_parameters()"
            )
        else:
            known = ", ".join([*PARAMETERS, METADATA, *([CONTENT_TYPE] if per_object else [])])
            raise ValueError(f"has an unknown key {key!r} (known: {known})")
    return headers


def _value(key: str, value: object) -> str:
    if key == "Expires" and isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("Expires must be an aware datetime (or an HTTP date string)")
        return format_datetime(value.astimezone(UTC), usegmt=True)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string, not {value!r}")
    if not _VISIBLE.fullmatch(value):
        raise ValueError(
            f"{key} must be printable US-ASCII without CR, LF or other control characters, got {value!r} "
            "(percent-encode a non-ASCII file name as filename*=UTF-8''...)"
        )
    return value


def _metadata(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"Metadata must be a dict of str to str, not {type(value).__name__}")
    headers: dict[str, str] = {}
    size = 0
    for name, text in value.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"Metadata key {name!r} is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)")
        if not isinstance(text, str) or not _VISIBLE.fullmatch(text):
            raise ValueError(f"Metadata[{name!r}] must be a string of printable US-ASCII, got {text!r}")
        header = METADATA_HEADER_PREFIX + name.lower()  # S3 keeps metadata names lower-cased
        if header in headers:
            raise ValueError(f"Metadata has the key {name!r} twice (S3 ignores the case of metadata names)")
        headers[header] = text
        size += len(name) + len(text)
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"Metadata holds {size} bytes; S3 accepts at most {MAX_METADATA_BYTES}")
    return headers
