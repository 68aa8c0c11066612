"""Typed, parse-once settings for every MinIO storage alias.

`Options` is the one declaration of the `MINIO_*` keys users write in `STORAGES[alias]["OPTIONS"]`: each field
is a key with its type, default and, where a type can say it, its bound; `RULES` checks what a type cannot.
`MinioSettings` adds the values derived from the keys. Each alias is parsed once (and each distinct set of
constructor overrides once per storage), so the request path reads plain attributes, never raw dictionaries.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

import msgspec
import msgspec.inspect
import urllib3
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.signals import setting_changed
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables
from minio.credentials.providers import Provider
from msgspec import Meta

from .aliases import alias_options
from .headers import object_headers
from .keys import ObjectKeys, normalise_prefix, prefix_problem
from .masking import MaskedOptions
from .names import clean_prefix
from .signing import MAX_PRESIGN_EXPIRES, credentials_fingerprint

MiB: Final = 1024 * 1024
MAX_EXPIRY: Final = timedelta(seconds=MAX_PRESIGN_EXPIRES)
MIN_EXPIRY: Final = timedelta(seconds=1)
MIN_PART_SIZE: Final = 5 * MiB
MAX_PART_SIZE: Final = 5 * 1024 * MiB
DEFAULT_MEDIA_BUCKET: Final = "auto-generated-bucket-media-files"
DEFAULT_STATIC_BUCKET: Final = "auto-generated-bucket-static-files"
URL_CACHE_KEYS: Final = ("MINIO_URL_CACHING_ENABLED", "MINIO_URL_CACHE_TIMEOUT", "MINIO_URL_CACHE_PREFIX")
URL_CACHE_BACKENDS: Final = ("lru", "redis", "django")
CREDENTIAL_KEYS: Final = ("MINIO_ACCESS_KEY", "MINIO_SECRET_KEY")  # required unless MINIO_CREDENTIALS_PROVIDER
# What names a server and an identity: a storage given all of these as keyword arguments is not overriding an alias.
IDENTITY_KEYS: Final = ("MINIO_ENDPOINT", *CREDENTIAL_KEYS)
STABLE_WINDOW_SHARE: Final = 0.2  # MINIO_URL_STABLE_WINDOW's default, as a share of the expiry
DIRECT_UPLOAD_EXPIRY_RANGE: Final = (timedelta(minutes=1), timedelta(hours=12))  # shorter than the 1-day clean-up
MAX_TIMEOUT: Final = 86_400.0  # seconds; a longer socket or thread wait overflows the platform's timers
_FINITE: Final = sys.float_info.max  # as an upper bound it refuses infinity (NaN fails every bound)

PolicyHook = tuple[str, dict[str, Any]]

# Bounds msgspec checks while converting; the description is the message for a value outside them.
Count = Annotated[int, Meta(ge=1, description="must be >= 1")]
Timeout = Annotated[float, Meta(gt=0, le=MAX_TIMEOUT, description=f"must be > 0 and at most {MAX_TIMEOUT:.0f} seconds")]
PartSize = Annotated[int, Meta(ge=MIN_PART_SIZE, le=MAX_PART_SIZE, description="must be between 5 MiB and 5 GiB")]
Threshold = Annotated[int, Meta(ge=0, description="must be >= 0")]
Deadline = Annotated[float, Meta(gt=0, le=_FINITE, description="must be > 0 seconds and finite")]
ListingTTL = Annotated[float, Meta(ge=0, le=_FINITE, description="must be >= 0 seconds (0 turns the listing off)")]


class SettingError(ImproperlyConfigured):
    """A bad OPTIONS entry. `key` is the MINIO_* key at fault (None: the OPTIONS as a whole) and
    `problem` is "missing", "unknown", "type" (wrong type) or "value" (rejected value), so the
    system checks can give each kind of mistake its own id."""

    def __init__(self, message: str, *, alias: str, key: str | None, problem: str) -> None:
        super().__init__(message)
        self.alias = alias
        self.key = key
        self.problem = problem


def _key_of(field: str) -> str:
    return f"MINIO_{field.upper()}"


class Options(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename=_key_of):
    """The OPTIONS schema, one field per key, in the README's order: the key is MINIO_ + the field's name
    upper-cased (unless the field names it), then its type (with its bound, if any) and its default.
    tests/test_settings_table.py holds the README's settings table to it."""

    endpoint: str
    access_key: str | None = None  # required unless MINIO_CREDENTIALS_PROVIDER
    secret_key: str | None = None
    credentials_provider: object = None  # a minio Provider, or the dotted path of a callable returning one
    use_https: bool = False
    region: str = "us-east-1"
    external_endpoint: str | None = None  # None or "": MINIO_ENDPOINT
    external_endpoint_use_https: bool | None = None  # None: MINIO_USE_HTTPS
    private_buckets: tuple[str, ...] = ()
    public_buckets: tuple[str, ...] = ()
    default_bucket: str = DEFAULT_MEDIA_BUCKET
    static_files_bucket: str = DEFAULT_STATIC_BUCKET
    url_expiry: timedelta = msgspec.field(default=MAX_EXPIRY, name="MINIO_URL_EXPIRY_HOURS")  # a timedelta
    url_stable_window: int | timedelta | None = None  # seconds or a timedelta; None: 20 % of the expiry, 0: off
    consistency_check_on_start: bool = False
    bucket_check_on_save: bool = False
    policy_hooks: tuple[PolicyHook, ...] = ()
    multipart_upload: bool = False
    multipart_threshold: Threshold = 10 * MiB
    multipart_part_size: PartSize = 10 * MiB
    upload_workers: Count = 4
    read_chunk_size: Count = 4 * MiB
    http_client: urllib3.PoolManager | None = None
    connect_timeout: Timeout = 5.0
    read_timeout: Timeout = 60.0
    health_check_timeout: Timeout = 3.0
    request_deadline: Deadline = 30.0
    url_caching_enabled: bool = False
    url_cache_backend: str = "django"
    url_cache_timeout: int | None = None  # None: 80 % of the expiry
    url_cache_prefix: str = "minio_url_"
    url_cache_redis_url: str | None = None
    url_cache_django_alias: str = "default"
    url_cache_max_entries: Count = 10_000
    bucket_listing: bool = False
    static_listing_ttl: ListingTTL = 60.0
    key_prefix: str = ""
    object_parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    public_url_base: str | None = None  # None or "": public URLs name the external endpoint and the bucket
    cors_allowed_origins: tuple[str, ...] = ()
    direct_upload_prefix: str | None = None  # None: no direct uploads into this alias's buckets
    direct_upload_expiry: timedelta = timedelta(hours=6)
    direct_upload_permission: str | None = None  # None: any logged-in user

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r}, access_key={self.access_key!r})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """What rich's pretty printer shows: the fields of repr(), never the secret (msgspec's default shows all)."""
        return [("endpoint", self.endpoint), ("access_key", self.access_key)]


class MinioSettings(Options, frozen=True, kw_only=True):
    """Validated settings of one storage alias (plus any constructor overrides): the keys as parsed, those whose
    unset value means "from another key" redeclared resolved, and the values derived from them, each computed
    once (url() and save() read them on every call)."""

    alias: str
    credentials_provider: Provider | str | None  # checked: an instance, or a dotted path that imports
    endpoint: str  # lower-cased: browsers send host names lower-cased and the signature covers the host
    external_endpoint: str  # MINIO_EXTERNAL_ENDPOINT, or MINIO_ENDPOINT; lower-cased
    external_use_https: bool  # MINIO_EXTERNAL_ENDPOINT_USE_HTTPS, or MINIO_USE_HTTPS
    url_cache_timeout: int  # MINIO_URL_CACHE_TIMEOUT, or 80 % of the expiry
    url_expiry_seconds: int
    url_window_seconds: int  # MINIO_URL_STABLE_WINDOW in seconds (0: off)
    credentials_id: str  # a keyed hash of both keys, or a hash naming the provider: tells client keys apart
    public_set: frozenset[str]  # the public buckets and the static bucket, which is always public
    all_buckets: tuple[str, ...]  # every bucket this alias manages, each once, in a stable order
    key_prefix: str  # "" or ending with exactly one "/"
    staging_key_prefix: str | None  # where direct uploads are staged: MINIO_KEY_PREFIX + MINIO_DIRECT_UPLOAD_PREFIX
    keys: ObjectKeys  # names to keys under key_prefix, and back
    object_headers: dict[str, str]  # MINIO_OBJECT_PARAMETERS as the headers every upload sends
    public_url_base: str | None  # ending with "/"; None when unset

    def __repr__(self) -> str:
        return f"MinioSettings(alias={self.alias!r}, endpoint={self.endpoint!r}, access_key={self.access_key!r})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return [("alias", self.alias), ("endpoint", self.endpoint), ("access_key", self.access_key)]

    def is_public(self, bucket: str) -> bool:
        """The static bucket is always public; the default bucket is private unless listed public."""
        return bucket in self.public_set


def _fields() -> tuple[msgspec.inspect.Field, ...]:
    """The keys as msgspec reads the schema: name, type with its bound, required or not."""
    info = msgspec.inspect.type_info(Options)
    return info.fields if isinstance(info, msgspec.inspect.StructType) else ()


KEYS: Final = tuple(field.encode_name for field in _fields())
REQUIRED_KEYS: Final = frozenset(field.encode_name for field in _fields() if field.required)
BOUNDS: Final = {  # key -> the message for a value outside the bound its type declares
    field.encode_name: str(field.type.extra_json_schema["description"])
    for field in _fields()
    if isinstance(field.type, msgspec.inspect.Metadata) and field.type.extra_json_schema
}
_RESOLVED: Final = frozenset(MinioSettings.__annotations__)  # MinioSettings computes these, whatever Options holds


def _seconds(value: timedelta) -> int:
    return int(value.total_seconds())


def _cache_timeout(options: Options) -> int:
    if options.url_cache_timeout is not None:
        return options.url_cache_timeout
    return int(_seconds(options.url_expiry) * 0.8)


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


def _window_seconds(options: Options) -> int:
    window = options.url_stable_window
    if window is None:
        return int(_seconds(options.url_expiry) * STABLE_WINDOW_SHARE)
    return _seconds(window) if isinstance(window, timedelta) else window


def _window_problem(options: Options) -> str | None:
    if 0 <= _window_seconds(options) < _seconds(options.url_expiry):
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
        lambda o: 0 < _cache_timeout(o) <= _seconds(o.url_expiry),
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


def _key(alias: str, name: object) -> str:
    return f"STORAGES[{alias!r}]['OPTIONS'][{name!r}]"


_LOCATION = re.compile(r"\$\.(\w+)")


def _fail(alias: str, error: msgspec.ValidationError) -> SettingError:
    """Turn msgspec's `... - at `$.KEY`` into a message naming alias and key."""
    text = str(error)
    if "Object missing required field" in text:
        key = text.split("`")[1]
        return SettingError(f"{_key(alias, key)} is required", alias=alias, key=key, problem="missing")
    if "Object contains unknown field" in text:
        key = text.split("`")[1]
        return SettingError(f"{_key(alias, key)} is not a known setting", alias=alias, key=key, problem="unknown")
    found = _LOCATION.search(text)
    if found is None:
        return SettingError(f"STORAGES[{alias!r}]['OPTIONS']: {text}", alias=alias, key=None, problem="type")
    key, reason = found.group(1), text.split(" - at ")[0]
    if key in BOUNDS and ", got " not in reason:  # the right type, out of its bound
        return SettingError(f"{_key(alias, key)} {BOUNDS[key]}", alias=alias, key=key, problem="value")
    return SettingError(f"{_key(alias, key)}: {reason}", alias=alias, key=key, problem="type")


# The frames that hold OPTIONS keep them in MaskedOptions, since Django's DEBUG page shows every local;
# sensitive_variables also blanks them in the reports sent with DEBUG off.
@sensitive_variables("options", "merged", "parsed")
def parse_options(alias: str, options: Mapping[str, Any]) -> MinioSettings:
    """Validate raw OPTIONS (never mutating them) and derive the final settings."""
    merged = MaskedOptions(options)
    for name in URL_CACHE_KEYS:  # older projects set these at the top level of settings.py
        if name not in merged and hasattr(django_settings, name):
            merged[name] = getattr(django_settings, name)
    for name in merged:  # no local holds a value: this frame shows on error pages
        if not isinstance(name, str) or not name.startswith("MINIO_"):
            message = f"{_key(alias, name)} is not a known setting (keys start with MINIO_)"
            raise SettingError(message, alias=alias, key=str(name), problem="unknown")
    try:
        parsed = msgspec.convert(merged, Options, strict=True)
    except msgspec.ValidationError as exc:
        raise _fail(alias, exc) from None
    if parsed.credentials_provider is None:  # without a provider, the keys are required as ever
        for key in CREDENTIAL_KEYS:
            if getattr(parsed, key.removeprefix("MINIO_").lower()) is None:
                message = f"{_key(alias, key)} is required (or give MINIO_CREDENTIALS_PROVIDER)"
                raise SettingError(message, alias=alias, key=key, problem="missing")
    for key, rule in RULES.items():
        problem = rule(parsed)
        if problem is not None:
            raise SettingError(f"{_key(alias, key)} {problem}", alias=alias, key=key, problem="value")
    return _derive(alias, parsed)


@sensitive_variables("options", "kept")
def _derive(alias: str, options: Options) -> MinioSettings:
    """The parsed keys, and what MinioSettings resolves or derives from them, computed once for the hot paths."""
    kept = MaskedOptions(
        {name: value for name, value in msgspec.structs.asdict(options).items() if name not in _RESOLVED}
    )
    return MinioSettings(
        **kept,
        alias=alias,
        endpoint=options.endpoint.lower(),
        external_endpoint=(options.external_endpoint or options.endpoint).lower(),
        external_use_https=(
            options.use_https if options.external_endpoint_use_https is None else options.external_endpoint_use_https
        ),
        url_cache_timeout=_cache_timeout(options),
        url_expiry_seconds=_seconds(options.url_expiry),
        url_window_seconds=_window_seconds(options),
        credentials_provider=_provider(options),
        credentials_id=_credentials_id(options),
        public_set=frozenset((*options.public_buckets, options.static_files_bucket)),
        all_buckets=tuple(dict.fromkeys((*options.private_buckets, *options.public_buckets, options.default_bucket))),
        key_prefix=normalise_prefix(options.key_prefix),
        staging_key_prefix=(
            None
            if options.direct_upload_prefix is None
            else normalise_prefix(options.key_prefix) + options.direct_upload_prefix
        ),
        keys=ObjectKeys(normalise_prefix(options.key_prefix)),
        object_headers=object_headers(options.object_parameters),
        public_url_base=_with_slash(options.public_url_base) if options.public_url_base else None,
    )


def _provider(options: Options) -> Provider | str | None:
    spec = options.credentials_provider
    assert spec is None or isinstance(spec, Provider | str)  # RULES refused anything else
    return spec


def _credentials_id(options: Options) -> str:
    """The static keys' fingerprint; with a provider, a hash naming it (its credentials change while the settings
    do not: what is keyed by credentials then looks them up at use)."""
    spec = options.credentials_provider
    if spec is None:
        assert options.access_key is not None and options.secret_key is not None
        return credentials_fingerprint(options.access_key, options.secret_key)
    name = spec if isinstance(spec, str) else f"{type(spec).__qualname__}@{id(spec):x}"
    return hashlib.blake2b(f"provider\n{name}".encode(), digest_size=16).hexdigest()


def _staging_key_prefix(options: Options) -> str | None:
    staging = options.direct_upload_prefix
    return None if staging is None else normalise_prefix(options.key_prefix) + staging


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


_cache: dict[str, MinioSettings] = {}


def get_settings(alias: str) -> MinioSettings:
    """Parsed settings of a STORAGES alias, cached until Django's settings change."""
    found = _cache.get(alias)
    if found is None:
        found = _cache[alias] = parse_options(alias, alias_options(alias))
    return found


@sensitive_variables("overrides", "base")
def settings_for(alias: str, overrides: Mapping[str, Any]) -> MinioSettings:
    """An alias's settings under one storage's keyword MINIO_* overrides: the alias's own (parsed once) when
    they only repeat its OPTIONS, as for a storage Django built; parsed for this storage otherwise."""
    if not overrides:
        return get_settings(alias)
    base = alias_options(alias)
    if overrides.items() <= base.items():
        return get_settings(alias)
    return parse_options(alias, MaskedOptions({**base, **overrides}))


def _clear_cache(*, setting: str, **_: object) -> None:
    if setting in ("STORAGES", *URL_CACHE_KEYS):
        _cache.clear()


setting_changed.connect(_clear_cache)
