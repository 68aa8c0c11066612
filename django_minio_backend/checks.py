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

from .alias_settings import parse_options
from .aliases import alias_options, is_static_alias, minio_aliases
from .bucket_plan import BucketTarget, targets_for
from .masking import redact_url
from .names import bucket_name_problem
from .policies import normalized
from .settings import MinioSettings, SettingError

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
INVALID_KEY_PREFIX = PREFIX + "E018"
INVALID_OBJECT_PARAMETERS = PREFIX + "E019"
INVALID_PUBLIC_URL_BASE = PREFIX + "E020"
INVALID_CORS_ORIGIN = PREFIX + "E021"
INVALID_STAGING_PREFIX = PREFIX + "E022"
DIRECT_UPLOAD_EXPIRY_OUT_OF_RANGE = PREFIX + "E023"
BAD_PERMISSION_HOOK = PREFIX + "E024"
HOOK_BUCKET_UNMANAGED = PREFIX + "W001"
PUBLIC_AND_PRIVATE_ACROSS_ALIASES = PREFIX + "W002"
SEVERAL_HOOKS = PREFIX + "W003"
STATIC_BUCKET_LISTED_PRIVATE = PREFIX + "W004"
# Credentials and stable URLs
CREDENTIALS_GIVEN_TWICE = PREFIX + "E015"
INVALID_CREDENTIALS_PROVIDER = PREFIX + "E016"
STABLE_WINDOW_OUT_OF_RANGE = PREFIX + "E017"
PUBLIC_URL_BASE_UNUSED = PREFIX + "W005"
MEDIA_IN_STATIC_BUCKET = PREFIX + "W006"

_REJECTED_VALUE_IDS = {
    "MINIO_PUBLIC_BUCKETS": BOTH_PRIVATE_AND_PUBLIC,  # the only value rule on it is the overlap
    "MINIO_URL_EXPIRY_HOURS": EXPIRY_OUT_OF_RANGE,
    "MINIO_MULTIPART_PART_SIZE": PART_SIZE_OUT_OF_RANGE,
    "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": EXTERNAL_SCHEME_WITHOUT_ENDPOINT,
    "MINIO_ENDPOINT": INVALID_ENDPOINT,
    "MINIO_EXTERNAL_ENDPOINT": INVALID_EXTERNAL_ENDPOINT,
    "MINIO_URL_CACHE_REDIS_URL": REDIS_URL_MISSING,
    "MINIO_URL_CACHE_BACKEND": UNKNOWN_CACHE_BACKEND,
    "MINIO_ACCESS_KEY": CREDENTIALS_GIVEN_TWICE,  # the only value rule on the keys: next to a provider
    "MINIO_SECRET_KEY": CREDENTIALS_GIVEN_TWICE,
    "MINIO_CREDENTIALS_PROVIDER": INVALID_CREDENTIALS_PROVIDER,
    "MINIO_URL_STABLE_WINDOW": STABLE_WINDOW_OUT_OF_RANGE,
    "MINIO_CORS_ALLOWED_ORIGINS": INVALID_CORS_ORIGIN,
    "MINIO_DIRECT_UPLOAD_PREFIX": INVALID_STAGING_PREFIX,
    "MINIO_DIRECT_UPLOAD_EXPIRY": DIRECT_UPLOAD_EXPIRY_OUT_OF_RANGE,
    "MINIO_DIRECT_UPLOAD_PERMISSION": BAD_PERMISSION_HOOK,
}
_KEY_IDS = {  # keys whose every problem, of type or of value, has an id of its own
    "MINIO_KEY_PREFIX": INVALID_KEY_PREFIX,
    "MINIO_OBJECT_PARAMETERS": INVALID_OBJECT_PARAMETERS,
    "MINIO_PUBLIC_URL_BASE": INVALID_PUBLIC_URL_BASE,
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
        messages.extend(_public_urls(alias, settings))
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
    if error.key in _KEY_IDS and error.problem in ("type", "value"):
        return _KEY_IDS[error.key]
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


def _public_urls(alias: str, settings: MinioSettings) -> Iterable[CheckMessage]:
    """A media alias's own bucket (MINIO_DEFAULT_BUCKET) decides what MINIO_PUBLIC_URL_BASE and the static bucket's
    publicness mean for it (a static alias's own bucket is always public)."""
    if is_static_alias(alias):
        return
    own = settings.default_bucket
    if settings.public_url_base and not settings.is_public(own):
        yield Warning(
            f"MINIO_PUBLIC_URL_BASE is set, but MINIO_DEFAULT_BUCKET {own!r} is private: its URLs are presigned, "
            "so the base is never used.",
            hint="MINIO_PUBLIC_URL_BASE maps to the root of the alias's own bucket; list it in MINIO_PUBLIC_BUCKETS "
            "or remove the base.",
            id=PUBLIC_URL_BASE_UNUSED,
            obj=_where(alias),
        )
    if own == settings.static_files_bucket and own not in settings.public_buckets:
        yield Warning(
            f"MINIO_DEFAULT_BUCKET {own!r} is also this alias's MINIO_STATIC_FILES_BUCKET, which is always public: "
            "its media files get plain URLs and initialize_buckets lets anyone read them.",
            hint="Set MINIO_STATIC_FILES_BUCKET only in the static alias (media and static files can share a "
            "bucket under different MINIO_KEY_PREFIX values), or list the bucket in MINIO_PUBLIC_BUCKETS if media "
            "files are meant to be public.",
            id=MEDIA_IN_STATIC_BUCKET,
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


def _prefixes(target: BucketTarget, aliases: Iterable[str]) -> str:
    return ", ".join(repr(target.prefixes[alias] + "*") for alias in aliases)


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
        conflicts = target.conflicts
        if conflicts:
            public = list(dict.fromkeys(alias for alias, _ in conflicts))
            private = list(dict.fromkeys(alias for _, alias in conflicts))
            yield Warning(
                f"Bucket {target.bucket!r} is public for {public} but private for {private} on the same server, "
                f"under overlapping key prefixes ({_prefixes(target, public)} and {_prefixes(target, private)}); "
                "initialize_buckets keeps them private.",
                hint="Give the aliases key prefixes that do not overlap (MINIO_KEY_PREFIX, e.g. 'static/' and "
                "'media/'), or one publicness.",
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


# -- deploy checks (`manage.py check --deploy`) ---------------------------------------------------------------
# Fine in development, wrong in production. Their ids are W1xx, apart from the checks that always run.
EXTERNAL_HTTP_UNDER_SSL_REDIRECT = PREFIX + "W101"
PUBLIC_BUCKET_LISTABLE = PREFIX + "W102"
LONG_EXPIRY_WITHOUT_WINDOW = PREFIX + "W103"
PROVIDER_INSTANCE = PREFIX + "W104"


def check_minio_deploy(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Registered with deploy=True. Aliases that do not parse are left to `check_minio_settings`."""
    parsed = _parsed_aliases()
    messages: list[CheckMessage] = []
    for alias, settings in parsed.items():
        messages.extend(_external_http_under_ssl_redirect(alias, settings))
        messages.extend(_long_lived_urls_without_window(alias, settings))
        messages.extend(_provider_instance(alias, settings))
    messages.extend(_listable_public_buckets(targets_for(parsed)))
    return messages


def _parsed_aliases() -> dict[str, MinioSettings]:
    parsed: dict[str, MinioSettings] = {}
    for alias in minio_aliases():
        try:
            parsed[alias] = parse_options(alias, alias_options(alias))
        except ImproperlyConfigured:
            continue
    return parsed


def _external_http_under_ssl_redirect(alias: str, settings: MinioSettings) -> Iterable[CheckMessage]:
    if getattr(django_settings, "SECURE_SSL_REDIRECT", False) and not settings.external_use_https:
        yield Warning(
            f"File URLs are http://{settings.external_endpoint}/... while SECURE_SSL_REDIRECT makes the site https: "
            "browsers block them as mixed content, and they travel unencrypted (presigned ones included).",
            hint="Serve the external endpoint over TLS and set MINIO_EXTERNAL_ENDPOINT_USE_HTTPS: True.",
            id=EXTERNAL_HTTP_UNDER_SSL_REDIRECT,
            obj=_where(alias),
        )


def _listable_public_buckets(targets: Iterable[BucketTarget]) -> Iterable[CheckMessage]:
    for target in targets:
        if target.public and target.listing and not target.hooks:  # a hook's policy replaces the listing one
            yield Warning(
                f"Public bucket {target.bucket!r} can be listed by anyone (MINIO_BUCKET_LISTING): every object "
                "name in it is visible, including names only meant to be known to those given a link.",
                hint="Set MINIO_BUCKET_LISTING: False unless the bucket is meant to be browsed.",
                id=PUBLIC_BUCKET_LISTABLE,
                obj=", ".join(_where(alias) for alias in target.aliases),
            )


DAY_SECONDS = 86_400


def _long_lived_urls_without_window(alias: str, settings: MinioSettings) -> Iterable[CheckMessage]:
    serves = () if is_static_alias(alias) else settings.all_buckets  # a static alias serves its public bucket only
    private = [bucket for bucket in serves if not settings.is_public(bucket)]
    if private and settings.url_window_seconds == 0 and settings.url_expiry_seconds > DAY_SECONDS:
        yield Warning(
            f"MINIO_URL_STABLE_WINDOW is 0 with URLs valid for {settings.url_expiry_seconds // 3600} hours: every page "
            f"view hands out new URLs for the private buckets {private}, so browsers and CDNs download those files "
            "again each time.",
            hint="Remove MINIO_URL_STABLE_WINDOW (a fifth of the expiry) or set it to the share of the URLs' life "
            "you can spare.",
            id=LONG_EXPIRY_WITHOUT_WINDOW,
            obj=_where(alias),
        )


def _provider_instance(alias: str, settings: MinioSettings) -> Iterable[CheckMessage]:
    if settings.credentials_provider is not None and not isinstance(settings.credentials_provider, str):
        yield Warning(
            "MINIO_CREDENTIALS_PROVIDER is an instance: forked workers share it and its connections to the STS, and "
            "renewed credentials come only when it lets go of its own, seconds before they expire.",
            hint="Give the dotted path of a function returning the provider: each process then builds its own.",
            id=PROVIDER_INSTANCE,
            obj=_where(alias),
        )
