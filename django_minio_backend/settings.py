"""The settings schema of every MinIO storage alias: `Options`, the one declaration of the `MINIO_*` keys users write
in `STORAGES[alias]["OPTIONS"]` (each field a key with its type, default and, where a type can say it, its bound),
and `MinioSettings`, what the code reads: the keys as parsed plus the values derived from them.

What no type can check is in setting_rules.py (`RULES`); parsing each alias once, and deriving the values, in
alias_settings.py. So the request path reads plain attributes, never raw dictionaries.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated, Any, Final

import msgspec
import msgspec.inspect
import urllib3
from django.core.exceptions import ImproperlyConfigured
from minio.credentials.providers import Provider
from msgspec import Meta

from .keys import ObjectKeys
from .signing import MAX_PRESIGN_EXPIRES

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
