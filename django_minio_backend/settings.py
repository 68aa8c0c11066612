"""Typed, parse-once settings for every MinIO storage alias.

Users keep the `MINIO_*` keys of the previous release inside `STORAGES[alias]["OPTIONS"]`.
They are converted into a frozen `MinioSettings` once per alias (and once per distinct set of
constructor overrides), so the request path never touches raw dictionaries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import msgspec
import urllib3
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.views.decorators.debug import sensitive_variables

from .signing import MAX_PRESIGN_EXPIRES, credentials_fingerprint

MiB: Final = 1024 * 1024
MAX_EXPIRY: Final = timedelta(seconds=MAX_PRESIGN_EXPIRES)
MIN_EXPIRY: Final = timedelta(seconds=1)
MIN_PART_SIZE: Final = 5 * MiB
MAX_PART_SIZE: Final = 5 * 1024 * MiB
DEFAULT_MEDIA_BUCKET: Final = "auto-generated-bucket-media-files"
DEFAULT_STATIC_BUCKET: Final = "auto-generated-bucket-static-files"
URL_CACHE_KEYS: Final = ("MINIO_URL_CACHING_ENABLED", "MINIO_URL_CACHE_TIMEOUT", "MINIO_URL_CACHE_PREFIX")
MAX_TIMEOUT: Final = 86_400.0  # seconds; a longer socket or thread wait overflows the platform's timers

PolicyHook = tuple[str, dict[str, Any]]


class SettingError(ImproperlyConfigured):
    """A bad OPTIONS entry. `key` is the MINIO_* key at fault (None: the OPTIONS as a whole) and
    `problem` is "missing", "unknown", "type" (wrong type) or "value" (rejected value), so the
    system checks can give each kind of mistake its own id."""

    def __init__(self, message: str, *, alias: str, key: str | None, problem: str) -> None:
        super().__init__(message)
        self.alias = alias
        self.key = key
        self.problem = problem


# Keys whose values never appear in a repr: the names Django's error reports hide among settings.
_HIDDEN_KEYS = re.compile("API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE", flags=re.IGNORECASE)
_STARS: Final = "********"


def redact_url(url: str) -> str:
    """`url` without its user info or a `password=` query parameter, for messages and reprs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _STARS
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{_STARS}@{netloc.rpartition('@')[2]}"
    pairs = parts.query.split("&") if parts.query else []
    query = "&".join(f"password={_STARS}" if pair.partition("=")[0].lower() == "password" else pair for pair in pairs)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _shown(name: object, value: object) -> str:
    if isinstance(name, str) and _HIDDEN_KEYS.search(name):
        return repr(_STARS)
    if isinstance(name, str) and name.upper().endswith("URL") and isinstance(value, str):
        return repr(redact_url(value))
    return repr(value)


class MaskedOptions(dict[str, Any]):
    """OPTIONS as a dict whose repr hides secrets (keys like Django's hidden settings, passwords in URLs), so
    storages, tracebacks and Django's error page never show them. Compares equal to the plain dict."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{name!r}: {_shown(name, value)}" for name, value in self.items()) + "}"


class _Options(msgspec.Struct, forbid_unknown_fields=True, rename="upper"):
    """The raw OPTIONS schema; field names are the user's keys without the `MINIO_` prefix."""

    endpoint: str
    access_key: str
    secret_key: str
    use_https: bool = False
    region: str = "us-east-1"
    external_endpoint: str | None = None
    external_endpoint_use_https: bool | None = None
    private_buckets: list[str] = []
    public_buckets: list[str] = []
    default_bucket: str = DEFAULT_MEDIA_BUCKET
    static_files_bucket: str = DEFAULT_STATIC_BUCKET
    url_expiry_hours: timedelta = MAX_EXPIRY
    consistency_check_on_start: bool = False
    bucket_check_on_save: bool = False
    policy_hooks: list[tuple[str, dict[str, Any]]] = []
    multipart_upload: bool = False
    multipart_threshold: int = 10 * MiB
    multipart_part_size: int = 10 * MiB
    http_client: Any = None
    url_caching_enabled: bool = False
    url_cache_timeout: int | None = None
    url_cache_prefix: str = "minio_url_"
    url_cache_backend: str = "django"
    url_cache_redis_url: str | None = None
    url_cache_django_alias: str = "default"
    url_cache_max_entries: int = 10_000
    upload_workers: int = 4
    read_chunk_size: int = 4 * MiB
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    health_check_timeout: float = 3.0
    request_deadline: float = 30.0
    bucket_listing: bool = False
    static_listing_ttl: float = 60.0

    def __repr__(self) -> str:
        return f"_Options(endpoint={self.endpoint!r}, access_key={self.access_key!r})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [("endpoint", self.endpoint), ("access_key", self.access_key)]


class MinioSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Validated settings of one storage alias (plus any constructor overrides)."""

    alias: str
    endpoint: str
    access_key: str
    secret_key: str
    credentials_id: str  # a keyed hash of both keys: tells credentials apart in cache and client keys
    use_https: bool
    region: str
    external_endpoint: str
    external_use_https: bool
    private_buckets: tuple[str, ...]
    public_buckets: tuple[str, ...]
    default_bucket: str
    static_files_bucket: str
    url_expiry: timedelta
    consistency_check_on_start: bool
    bucket_check_on_save: bool
    policy_hooks: tuple[PolicyHook, ...]
    multipart_upload: bool
    multipart_threshold: int
    multipart_part_size: int
    http_client: urllib3.PoolManager | None
    url_caching_enabled: bool
    url_cache_timeout: int
    url_cache_prefix: str
    url_cache_backend: str
    url_cache_redis_url: str | None
    url_cache_django_alias: str
    url_cache_max_entries: int
    upload_workers: int
    read_chunk_size: int
    connect_timeout: float
    read_timeout: float
    health_check_timeout: float
    request_deadline: float
    bucket_listing: bool
    static_listing_ttl: float
    public_set: frozenset[str]

    def __repr__(self) -> str:
        return f"MinioSettings(alias={self.alias!r}, endpoint={self.endpoint!r}, access_key={self.access_key!r})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """What rich's pretty printer shows: the fields of repr(), never the secret (msgspec's default shows all)."""
        return [("alias", self.alias), ("endpoint", self.endpoint), ("access_key", self.access_key)]

    def is_public(self, bucket: str) -> bool:
        """The static bucket is always public; the default bucket is private unless listed public."""
        return bucket in self.public_set

    @property
    def url_expiry_seconds(self) -> int:
        return int(self.url_expiry.total_seconds())

    @property
    def all_buckets(self) -> tuple[str, ...]:
        """Every bucket this alias manages, each once, in a stable order."""
        ordered = (*self.private_buckets, *self.public_buckets, self.default_bucket)
        return tuple(dict.fromkeys(ordered))


def _key(alias: str, name: str) -> str:
    return f"STORAGES[{alias!r}]['OPTIONS'][{name!r}]"


_LOCATION = re.compile(r"\$\.(\w+)")


def _fail(alias: str, error: msgspec.ValidationError) -> SettingError:
    """Turn msgspec's `... - at `$.FIELD`` into a message naming alias and key."""
    text = str(error)
    found = _LOCATION.search(text)
    if "Object missing required field" in text:
        key = "MINIO_" + text.split("`")[1]
        return SettingError(f"{_key(alias, key)} is required", alias=alias, key=key, problem="missing")
    if "Object contains unknown field" in text:
        key = "MINIO_" + text.split("`")[1]
        return SettingError(f"{_key(alias, key)} is not a known setting", alias=alias, key=key, problem="unknown")
    if found:
        key = "MINIO_" + found.group(1)
        reason = text.split(" - at ")[0]
        return SettingError(f"{_key(alias, key)}: {reason}", alias=alias, key=key, problem="type")
    return SettingError(f"STORAGES[{alias!r}]['OPTIONS']: {text}", alias=alias, key=None, problem="type")


def _strip_prefix(alias: str, options: Mapping[str, Any]) -> MaskedOptions:
    stripped = MaskedOptions()
    for name in options:  # no local holds a value: this frame shows on error pages
        if not isinstance(name, str) or not name.startswith("MINIO_"):
            message = f"{_key(alias, name)} is not a known setting (keys start with MINIO_)"
            raise SettingError(message, alias=alias, key=str(name), problem="unknown")
        stripped[name.removeprefix("MINIO_")] = options[name]
    return stripped


# The frames that hold OPTIONS keep them in MaskedOptions, since Django's DEBUG page shows every local;
# sensitive_variables also blanks them in the reports sent with DEBUG off.
@sensitive_variables("options", "merged", "raw")
def parse_options(alias: str, options: Mapping[str, Any]) -> MinioSettings:
    """Validate raw OPTIONS (never mutating them) and derive the final settings."""
    merged = MaskedOptions(options)
    for name in URL_CACHE_KEYS:  # older projects set these at the top level of settings.py
        if name not in merged and hasattr(django_settings, name):
            merged[name] = getattr(django_settings, name)
    try:
        raw = msgspec.convert(_strip_prefix(alias, merged), _Options, strict=True)
    except msgspec.ValidationError as exc:
        raise _fail(alias, exc) from None
    return _derive(alias, raw)


def _require(condition: bool, alias: str, name: str, message: str) -> None:
    if not condition:
        raise SettingError(f"{_key(alias, name)} {message}", alias=alias, key=name, problem="value")


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


@sensitive_variables("raw")
def _derive(alias: str, raw: _Options) -> MinioSettings:
    problem = _host_problem(raw.endpoint)
    _require(problem is None, alias, "MINIO_ENDPOINT", problem or "")
    if raw.external_endpoint:  # "" means unset, as None does
        problem = _host_problem(raw.external_endpoint)
        if problem is not None and "://" in raw.external_endpoint:
            problem += " (MINIO_EXTERNAL_ENDPOINT_USE_HTTPS chooses https)"
        _require(problem is None, alias, "MINIO_EXTERNAL_ENDPOINT", problem or "")
    both = sorted(set(raw.private_buckets) & set(raw.public_buckets))
    _require(not both, alias, "MINIO_PUBLIC_BUCKETS", f"and MINIO_PRIVATE_BUCKETS both list {both}")
    _require(
        MIN_EXPIRY <= raw.url_expiry_hours <= MAX_EXPIRY, alias, "MINIO_URL_EXPIRY_HOURS", "must be 1 second .. 7 days"
    )
    _require(
        MIN_PART_SIZE <= raw.multipart_part_size <= MAX_PART_SIZE,
        alias,
        "MINIO_MULTIPART_PART_SIZE",
        "must be between 5 MiB and 5 GiB",
    )
    _require(raw.multipart_threshold >= 0, alias, "MINIO_MULTIPART_THRESHOLD", "must be >= 0")
    _require(raw.upload_workers >= 1, alias, "MINIO_UPLOAD_WORKERS", "must be >= 1")
    _require(raw.read_chunk_size >= 1, alias, "MINIO_READ_CHUNK_SIZE", "must be >= 1")
    _require(raw.url_cache_max_entries >= 1, alias, "MINIO_URL_CACHE_MAX_ENTRIES", "must be >= 1")
    _require(
        0 <= raw.static_listing_ttl < float("inf"),
        alias,
        "MINIO_STATIC_LISTING_TTL",
        "must be >= 0 seconds (0 turns the listing off)",
    )
    for name, value in (
        ("MINIO_CONNECT_TIMEOUT", raw.connect_timeout),
        ("MINIO_READ_TIMEOUT", raw.read_timeout),
        ("MINIO_HEALTH_CHECK_TIMEOUT", raw.health_check_timeout),
    ):
        _require(0 < value <= MAX_TIMEOUT, alias, name, f"must be > 0 and at most {MAX_TIMEOUT:.0f} seconds")
    _require(0 < raw.request_deadline < float("inf"), alias, "MINIO_REQUEST_DEADLINE", "must be > 0 seconds and finite")
    _require(
        raw.http_client is None or isinstance(raw.http_client, urllib3.PoolManager),
        alias,
        "MINIO_HTTP_CLIENT",
        "must be a urllib3.PoolManager",
    )
    _require(
        raw.external_endpoint_use_https is None or raw.external_endpoint is not None,
        alias,
        "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS",
        "is set but MINIO_EXTERNAL_ENDPOINT is not",
    )
    expiry_seconds = int(raw.url_expiry_hours.total_seconds())
    cache_timeout = raw.url_cache_timeout if raw.url_cache_timeout is not None else int(expiry_seconds * 0.8)
    _require(
        0 < cache_timeout <= expiry_seconds,
        alias,
        "MINIO_URL_CACHE_TIMEOUT",
        "must be > 0 and not longer than MINIO_URL_EXPIRY_HOURS",
    )
    if raw.url_caching_enabled:
        backend = raw.url_cache_backend
        _require(
            backend in ("lru", "redis", "django") or "." in backend,
            alias,
            "MINIO_URL_CACHE_BACKEND",
            'must be "lru", "redis", "django" or a dotted path to a class',
        )
        _require(
            backend != "redis" or bool(raw.url_cache_redis_url),
            alias,
            "MINIO_URL_CACHE_REDIS_URL",
            'is required by MINIO_URL_CACHE_BACKEND "redis"',
        )
    # Host names are case-insensitive and browsers send them lower-cased; the signature covers the host.
    external = (raw.external_endpoint or raw.endpoint).lower()
    external_https = raw.external_endpoint_use_https
    return MinioSettings(
        alias=alias,
        endpoint=raw.endpoint.lower(),
        access_key=raw.access_key,
        secret_key=raw.secret_key,
        credentials_id=credentials_fingerprint(raw.access_key, raw.secret_key),
        use_https=raw.use_https,
        region=raw.region,
        external_endpoint=external,
        external_use_https=raw.use_https if external_https is None else external_https,
        private_buckets=tuple(raw.private_buckets),
        public_buckets=tuple(raw.public_buckets),
        default_bucket=raw.default_bucket,
        static_files_bucket=raw.static_files_bucket,
        url_expiry=raw.url_expiry_hours,
        consistency_check_on_start=raw.consistency_check_on_start,
        bucket_check_on_save=raw.bucket_check_on_save,
        policy_hooks=tuple((bucket, policy) for bucket, policy in raw.policy_hooks),
        multipart_upload=raw.multipart_upload,
        multipart_threshold=raw.multipart_threshold,
        multipart_part_size=raw.multipart_part_size,
        http_client=raw.http_client,
        url_caching_enabled=raw.url_caching_enabled,
        url_cache_timeout=cache_timeout,
        url_cache_prefix=raw.url_cache_prefix,
        url_cache_backend=raw.url_cache_backend,
        url_cache_redis_url=raw.url_cache_redis_url,
        url_cache_django_alias=raw.url_cache_django_alias,
        url_cache_max_entries=raw.url_cache_max_entries,
        upload_workers=raw.upload_workers,
        read_chunk_size=raw.read_chunk_size,
        connect_timeout=raw.connect_timeout,
        read_timeout=raw.read_timeout,
        health_check_timeout=raw.health_check_timeout,
        request_deadline=raw.request_deadline,
        bucket_listing=raw.bucket_listing,
        static_listing_ttl=raw.static_listing_ttl,
        public_set=frozenset((*raw.public_buckets, raw.static_files_bucket)),
    )


_cache: dict[str, MinioSettings] = {}


def alias_options(alias: str) -> MaskedOptions:
    """A copy of the OPTIONS of a STORAGES alias; an unknown alias is an error, never a fallback to 'default'."""
    config = (getattr(django_settings, "STORAGES", {}) or {}).get(alias)  # no local holds all of STORAGES
    if config is None:
        raise ImproperlyConfigured(f"STORAGES has no alias {alias!r}")
    options = config.get("OPTIONS") or {}
    if not isinstance(options, Mapping):
        raise SettingError(f"STORAGES[{alias!r}]['OPTIONS'] must be a dict", alias=alias, key=None, problem="type")
    return MaskedOptions(options)


def get_settings(alias: str) -> MinioSettings:
    """Parsed settings of a STORAGES alias, cached until Django's settings change."""
    found = _cache.get(alias)
    if found is None:
        found = _cache[alias] = parse_options(alias, alias_options(alias))
    return found


def alias_for(options: Mapping[str, Any], fallback: str) -> str:
    """Find which STORAGES alias these OPTIONS came from (Django passes OPTIONS as kwargs, not the alias)."""
    storages: Mapping[str, Any] = getattr(django_settings, "STORAGES", {}) or {}
    if fallback in storages and (storages[fallback].get("OPTIONS") or {}) == options:
        return fallback
    for alias, config in storages.items():
        if (config.get("OPTIONS") or {}) == options:
            return str(alias)
    return fallback


def minio_aliases() -> list[str]:
    """STORAGES aliases whose backend is one of ours (or a subclass)."""
    from django.utils.module_loading import import_string

    from .storage import MinioBackend

    found: list[str] = []
    storages: Mapping[str, Any] = getattr(django_settings, "STORAGES", {}) or {}
    for alias, config in storages.items():
        try:
            backend = import_string(config["BACKEND"])
        except ImportError:
            continue
        if isinstance(backend, type) and issubclass(backend, MinioBackend):
            found.append(str(alias))
    return found


def _clear_cache(*, setting: str, **_: object) -> None:
    if setting in ("STORAGES", *URL_CACHE_KEYS):
        _cache.clear()


setting_changed.connect(_clear_cache)
