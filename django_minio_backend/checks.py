"""Django system checks (`manage.py check`): every MinIO storage alias's problems, each with a stable id.

Parse errors that would raise ImproperlyConfigured at start-up are reported here under their own id
instead, and the checks also cover what parsing cannot see: bucket names, the URL cache backend, and
conflicts between aliases sharing a server. The ids are listed in the README.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .aliases import alias_options, minio_aliases
from .masking import redact_url
from .names import bucket_name_problem
from .policies import BucketTarget, normalized, targets_for
from .settings import MinioSettings, SettingError, parse_options

PREFIX = "django_minio_backend."
BOTH_PRIVATE_AND_PUBLIC = PREFIX + "E001"
INVALID_BUCKET_NAME = PREFIX + "E002"
EXPIRY_OUT_OF_RANGE = PREFIX + "E003"
PART_SIZE_OUT_OF_RANGE = PREFIX + "E004"
EXTERNAL_SCHEME_WITHOUT_ENDPOINT = PREFIX + "E005"
REDIS_URL_MISSING = PREFIX + "E006"
REDIS_NOT_INSTALLED = PREFIX + "E007"
DJANGO_CACHE_ALIAS_MISSING = PREFIX + "E008"
UNKNOWN_CACHE_BACKEND = PREFIX + "E009"
REQUIRED_SETTING_MISSING = PREFIX + "E010"
UNKNOWN_SETTING = PREFIX + "E011"
INVALID_ENDPOINT = PREFIX + "E012"
INVALID_VALUE = PREFIX + "E013"
INVALID_EXTERNAL_ENDPOINT = PREFIX + "E014"
INVALID_CORS_ORIGIN = PREFIX + "E021"
INVALID_STAGING_PREFIX = PREFIX + "E022"
DIRECT_UPLOAD_EXPIRY_OUT_OF_RANGE = PREFIX + "E023"
BAD_PERMISSION_HOOK = PREFIX + "E024"
HOOK_BUCKET_UNMANAGED = PREFIX + "W001"
PUBLIC_AND_PRIVATE_ACROSS_ALIASES = PREFIX + "W002"
SEVERAL_HOOKS = PREFIX + "W003"
STATIC_BUCKET_LISTED_PRIVATE = PREFIX + "W004"

_REJECTED_VALUE_IDS = {
    "MINIO_PUBLIC_BUCKETS": BOTH_PRIVATE_AND_PUBLIC,  # the only value rule on it is the overlap
    "MINIO_URL_EXPIRY_HOURS": EXPIRY_OUT_OF_RANGE,
    "MINIO_MULTIPART_PART_SIZE": PART_SIZE_OUT_OF_RANGE,
    "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": EXTERNAL_SCHEME_WITHOUT_ENDPOINT,
    "MINIO_ENDPOINT": INVALID_ENDPOINT,
    "MINIO_EXTERNAL_ENDPOINT": INVALID_EXTERNAL_ENDPOINT,
    "MINIO_URL_CACHE_REDIS_URL": REDIS_URL_MISSING,
    "MINIO_URL_CACHE_BACKEND": UNKNOWN_CACHE_BACKEND,
    "MINIO_CORS_ALLOWED_ORIGINS": INVALID_CORS_ORIGIN,
    "MINIO_DIRECT_UPLOAD_PREFIX": INVALID_STAGING_PREFIX,
    "MINIO_DIRECT_UPLOAD_EXPIRY": DIRECT_UPLOAD_EXPIRY_OUT_OF_RANGE,
    "MINIO_DIRECT_UPLOAD_PERMISSION": BAD_PERMISSION_HOOK,
}
_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


def check_minio_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Registered by the app config; runs for every MinIO alias whatever `app_configs` asks for."""
    messages: list[CheckMessage] = []
    parsed: dict[str, MinioSettings] = {}
    for alias in minio_aliases():
        try:
            parsed[alias] = parse_options(alias, alias_options(alias))
        except ImproperlyConfigured as exc:
            messages.append(Error(str(exc), id=parse_error_id(exc), obj=_where(alias)))
    for alias, settings in parsed.items():
        messages.extend(_bucket_names(alias, settings))
        messages.extend(_static_bucket(alias, settings))
        if settings.url_caching_enabled:
            messages.extend(_url_cache(alias, settings))
        if settings.direct_upload_permission is not None:
            messages.extend(_permission_hook(alias, settings.direct_upload_permission))
    messages.extend(_across_aliases(targets_for(parsed)))
    return messages


def parse_error_id(error: ImproperlyConfigured) -> str:
    """The check id of a settings parse failure."""
    if not isinstance(error, SettingError):
        return INVALID_VALUE
    if error.problem == "missing":
        return REQUIRED_SETTING_MISSING
    if error.problem == "unknown":
        return UNKNOWN_SETTING
    if error.problem == "value" and error.key in _REJECTED_VALUE_IDS:
        return _REJECTED_VALUE_IDS[error.key]
    if error.key == "MINIO_ENDPOINT":
        return INVALID_ENDPOINT
    return INVALID_VALUE


def _where(alias: str) -> str:
    return f"STORAGES[{alias!r}]"


def _bucket_names(alias: str, settings: MinioSettings) -> Iterable[CheckMessage]:
    named = [
        *(("MINIO_PRIVATE_BUCKETS", bucket) for bucket in settings.private_buckets),
        *(("MINIO_PUBLIC_BUCKETS", bucket) for bucket in settings.public_buckets),
        ("MINIO_DEFAULT_BUCKET", settings.default_bucket),
        ("MINIO_STATIC_FILES_BUCKET", settings.static_files_bucket),
        *(("MINIO_POLICY_HOOKS", bucket) for bucket, _ in settings.policy_hooks),
    ]
    for key, bucket in dict.fromkeys(named):
        problem = bucket_name_problem(bucket)
        if problem is not None:
            yield Error(
                f"{key} has an invalid bucket name {bucket!r}: it {problem}.",
                hint="S3 bucket names: 3-63 characters of a-z, 0-9, '.' and '-', starting and ending alphanumeric.",
                id=INVALID_BUCKET_NAME,
                obj=_where(alias),
            )


def _static_bucket(alias: str, settings: MinioSettings) -> Iterable[CheckMessage]:
    if settings.static_files_bucket in settings.private_buckets:
        yield Warning(
            f"MINIO_STATIC_FILES_BUCKET {settings.static_files_bucket!r} is also in MINIO_PRIVATE_BUCKETS, "
            "but the static files bucket is always public.",
            hint="Use a separate bucket for private files.",
            id=STATIC_BUCKET_LISTED_PRIVATE,
            obj=_where(alias),
        )


def _url_cache(alias: str, settings: MinioSettings) -> Iterable[CheckMessage]:
    backend = settings.url_cache_backend
    where = _where(alias)
    if backend == "redis":
        url = settings.url_cache_redis_url or ""  # parsing has made sure there is one
        if urlsplit(url).scheme not in _REDIS_SCHEMES:
            yield Error(
                f'MINIO_URL_CACHE_BACKEND "redis" needs MINIO_URL_CACHE_REDIS_URL (redis://, rediss:// or unix://), '
                f"got {redact_url(url)!r}.",
                id=REDIS_URL_MISSING,
                obj=where,
            )
        if importlib.util.find_spec("redis") is None:
            yield Error(
                'MINIO_URL_CACHE_BACKEND "redis" needs redis-py, which is not installed.',
                hint='pip install "django-minio-backend[redis]"',
                id=REDIS_NOT_INSTALLED,
                obj=where,
            )
    elif backend == "django":
        caches = getattr(django_settings, "CACHES", {}) or {}
        if settings.url_cache_django_alias not in caches:
            yield Error(
                f"MINIO_URL_CACHE_DJANGO_ALIAS {settings.url_cache_django_alias!r} is not in CACHES.",
                id=DJANGO_CACHE_ALIAS_MISSING,
                obj=where,
            )
    elif backend != "lru":
        problem = _custom_backend_problem(backend)
        if problem is not None:
            yield Error(
                f"MINIO_URL_CACHE_BACKEND {backend!r}: {problem}.",
                hint='Use "lru", "redis", "django" or the dotted path of a URLCache class.',
                id=UNKNOWN_CACHE_BACKEND,
                obj=where,
            )


def _permission_hook(alias: str, path: str) -> Iterable[CheckMessage]:
    problem = _custom_backend_problem(path)
    if problem is not None:
        yield Error(
            f"MINIO_DIRECT_UPLOAD_PERMISSION {path!r}: {problem.replace('class', 'function')}.",
            hint="The dotted path of a function taking the request and returning True when it may upload.",
            id=BAD_PERMISSION_HOOK,
            obj=_where(alias),
        )


def _custom_backend_problem(path: str) -> str | None:
    """Why a dotted path (parsing refuses any other name) cannot be a URL cache class, or None."""
    try:
        found = import_string(path)
    except ImportError as exc:
        return f"cannot be imported ({exc})"
    return None if callable(found) else "is not a class"


def _across_aliases(targets: Iterable[BucketTarget]) -> Iterable[CheckMessage]:
    for target in targets:
        where = ", ".join(_where(alias) for alias in target.aliases)
        if target.hooks and not target.managed:
            yield Warning(
                f"MINIO_POLICY_HOOKS names bucket {target.bucket!r}, which no MinIO alias manages; "
                "initialize_buckets applies the hook only if the bucket already exists.",
                hint="List the bucket in MINIO_PRIVATE_BUCKETS or MINIO_PUBLIC_BUCKETS.",
                id=HOOK_BUCKET_UNMANAGED,
                obj=where,
            )
        votes = set(target.public_votes.values())
        if len(votes) > 1:
            public = [alias for alias, is_public in target.public_votes.items() if is_public]
            private = [alias for alias, is_public in target.public_votes.items() if not is_public]
            yield Warning(
                f"Bucket {target.bucket!r} is public for {public} but private for {private} on the same server; "
                "initialize_buckets keeps it private.",
                id=PUBLIC_AND_PRIVATE_ACROSS_ALIASES,
                obj=where,
            )
        if len({normalized(policy) for _, policy in target.hooks}) > 1:
            owners = [alias for alias, _ in target.hooks]
            yield Warning(
                f"Different MINIO_POLICY_HOOKS policies name bucket {target.bucket!r} (aliases {owners}); "
                "a bucket has one policy, so only the last one is applied.",
                hint="Merge the statements into one policy.",
                id=SEVERAL_HOOKS,
                obj=where,
            )
