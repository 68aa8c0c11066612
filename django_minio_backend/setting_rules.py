"""What no type can say about the OPTIONS keys: `RULES`, one check per key (a host[:port], a URL base, origins, a
provider that imports, values that must agree with other keys), each giving the problem or None.

They run in order once msgspec has converted the types (alias_settings.py), so each can read every key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit

from django.core.exceptions import SuspiciousFileOperation
from django.utils.module_loading import import_string
from minio.credentials.providers import Provider

from .headers import object_headers
from .keys import prefix_problem
from .names import clean_prefix
from .settings import (
    CREDENTIAL_KEYS,
    DIRECT_UPLOAD_EXPIRY_RANGE,
    MAX_EXPIRY,
    MIN_EXPIRY,
    STABLE_WINDOW_SHARE,
    URL_CACHE_BACKENDS,
    Options,
)

__all__ = ["RULES", "Rule", "cache_timeout", "seconds", "window_seconds"]


def seconds(value: timedelta) -> int:
    return int(value.total_seconds())


def cache_timeout(options: Options) -> int:
    if options.url_cache_timeout is not None:
        return options.url_cache_timeout
    return int(seconds(options.url_expiry) * 0.8)


def _host_problem(value: str) -> str | None:
    """Why `value` is not a plain `host[:port]` (what URLs are built from), or None."""
    if not value.strip():
        return "must be a non-empty host[:port]"
    if "://" in value:
        return "must be host[:port] without a scheme"
    if "/" in value:
        return "must be host[:port] without a path or a trailing slash"
    try:
        parts = urlsplit(f"//{value}")
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return "must be a plain host[:port]"
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        return "must be host[:port] with a port from 1 to 65535"
    if not parts.hostname or parts.netloc != value or any(char in value for char in "@?#\\ \t\r\n"):
        return "must be a plain host[:port]"
    return None


def _external_endpoint_problem(options: Options) -> str | None:
    if not options.external_endpoint:  # "" means unset, as None does
        return None
    problem = _host_problem(options.external_endpoint)
    if problem is not None and "://" in options.external_endpoint:
        problem += " (MINIO_EXTERNAL_ENDPOINT_USE_HTTPS chooses https)"
    return problem


def window_seconds(options: Options) -> int:
    window = options.url_stable_window
    if window is None:
        return int(seconds(options.url_expiry) * STABLE_WINDOW_SHARE)
    return seconds(window) if isinstance(window, timedelta) else window


def _window_problem(options: Options) -> str | None:
    if 0 <= window_seconds(options) < seconds(options.url_expiry):
        return None
    return "must be 0 (off) or a number of seconds (or a timedelta) shorter than MINIO_URL_EXPIRY_HOURS"


def _provider_problem(options: Options) -> str | None:
    """Why MINIO_CREDENTIALS_PROVIDER cannot give credentials, or None. A dotted path must import to a callable; it
    is called on first use, in each process."""
    spec = options.credentials_provider
    if spec is None or isinstance(spec, Provider):
        return None
    if not isinstance(spec, str):
        kind = type(spec).__name__
        return f"must be a minio.credentials.Provider or a dotted path to a callable returning one, not {kind}"
    try:
        found = import_string(spec)
    except ImportError as exc:
        return f"cannot be imported ({exc})"
    return None if callable(found) else f"names {type(found).__name__}, not a callable returning a Provider"


def _given_twice(key: str) -> Rule:
    """A static key next to a provider: two sources of credentials, and no telling which one signs."""
    attribute = key.removeprefix("MINIO_").lower()

    def rule(options: Options) -> str | None:
        if options.credentials_provider is None or getattr(options, attribute) is None:
            return None
        given = [name for name in CREDENTIAL_KEYS if getattr(options, name.removeprefix("MINIO_").lower()) is not None]
        return f"is set together with MINIO_CREDENTIALS_PROVIDER: give {' and '.join(given)} or the provider, not both"

    return rule


def _url_base_problem(options: Options) -> str | None:
    """Why MINIO_PUBLIC_URL_BASE cannot be put in front of a quoted key, or None."""
    value = options.public_url_base
    if not value:
        return None
    if not value.isascii() or any(char.isspace() or not char.isprintable() for char in value):
        return "must be an ASCII URL without spaces or control characters (percent-encode the rest)"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "must be an http:// or https:// URL with a valid host and port"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host, e.g. 'https://cdn.example.com/static/'"
    if port is not None and not 1 <= port <= 65535:
        return "must have a port from 1 to 65535"
    if "@" in parts.netloc or parts.query or parts.fragment or "?" in value or "#" in value:
        return "must not hold user info, a query or a fragment: keys are appended to it"
    return None


def _object_parameters_problem(options: Options) -> str | None:
    try:
        object_headers(options.object_parameters)
    except ValueError as error:
        return str(error)
    return None


def _listed_as_both(options: Options) -> str | None:
    both = sorted(set(options.private_buckets) & set(options.public_buckets))
    return f"and MINIO_PRIVATE_BUCKETS both list {both}" if both else None


def _origins_problem(options: Options) -> str | None:
    """Each origin is "*" or scheme://host[:port] exactly as browsers send it in the Origin header."""
    for origin in options.cors_allowed_origins:
        scheme, separator, host = origin.partition("://")
        if origin != "*" and (scheme not in ("http", "https") or not separator or _host_problem(host) is not None):
            return f'must list "*" or origins such as "https://app.example.com" (no path, no slash), not {origin!r}'
    return None


def _staging_prefix_problem(options: Options) -> str | None:
    prefix = options.direct_upload_prefix
    if prefix is None:
        return None
    try:
        valid = prefix.endswith("/") and clean_prefix(prefix) == prefix and "\\" not in prefix
    except SuspiciousFileOperation:
        valid = False
    return None if valid else f'must be a key prefix ending with "/", such as "direct-uploads/", not {prefix!r}'


def _dotted_path_problem(options: Options) -> str | None:
    path = options.direct_upload_permission
    if path is None or re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", path):
        return None
    return f"must be the dotted path of a function taking the request, not {path!r}"


Rule = Callable[[Options], str | None]  # the problem with the key's value, or None


def _unless(holds: Callable[[Options], bool], problem: str) -> Rule:
    return lambda options: None if holds(options) else problem


# What no type can say: checked in this order once msgspec has converted the types, each naming its key.
RULES: Final[Mapping[str, Rule]] = {
    "MINIO_ENDPOINT": lambda options: _host_problem(options.endpoint),
    "MINIO_CREDENTIALS_PROVIDER": _provider_problem,  # before the keys: a provider that is no provider comes first
    "MINIO_ACCESS_KEY": _given_twice("MINIO_ACCESS_KEY"),
    "MINIO_SECRET_KEY": _given_twice("MINIO_SECRET_KEY"),
    "MINIO_EXTERNAL_ENDPOINT": _external_endpoint_problem,
    "MINIO_PUBLIC_BUCKETS": _listed_as_both,
    "MINIO_URL_EXPIRY_HOURS": _unless(lambda o: MIN_EXPIRY <= o.url_expiry <= MAX_EXPIRY, "must be 1 second .. 7 days"),
    "MINIO_URL_STABLE_WINDOW": _window_problem,
    "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": _unless(
        lambda o: o.external_endpoint_use_https is None or o.external_endpoint is not None,
        "is set but MINIO_EXTERNAL_ENDPOINT is not",
    ),
    "MINIO_URL_CACHE_TIMEOUT": _unless(
        lambda o: 0 < cache_timeout(o) <= seconds(o.url_expiry),
        "must be > 0 and not longer than MINIO_URL_EXPIRY_HOURS",
    ),
    "MINIO_URL_CACHE_BACKEND": _unless(
        lambda o: not o.url_caching_enabled or o.url_cache_backend in URL_CACHE_BACKENDS or "." in o.url_cache_backend,
        'must be "lru", "redis", "django" or a dotted path to a class',
    ),
    "MINIO_URL_CACHE_REDIS_URL": _unless(
        lambda o: not o.url_caching_enabled or o.url_cache_backend != "redis" or bool(o.url_cache_redis_url),
        'is required by MINIO_URL_CACHE_BACKEND "redis"',
    ),
    "MINIO_KEY_PREFIX": lambda options: prefix_problem(options.key_prefix),
    "MINIO_OBJECT_PARAMETERS": _object_parameters_problem,
    "MINIO_PUBLIC_URL_BASE": _url_base_problem,
    "MINIO_CORS_ALLOWED_ORIGINS": _origins_problem,
    "MINIO_DIRECT_UPLOAD_PREFIX": _staging_prefix_problem,
    "MINIO_DIRECT_UPLOAD_EXPIRY": _unless(
        lambda o: DIRECT_UPLOAD_EXPIRY_RANGE[0] <= o.direct_upload_expiry <= DIRECT_UPLOAD_EXPIRY_RANGE[1],
        "must be 1 minute .. 12 hours",
    ),
    "MINIO_DIRECT_UPLOAD_PERMISSION": _dotted_path_problem,
}
