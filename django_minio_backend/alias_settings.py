"""The settings of each alias, parsed once: OPTIONS validated (types and bounds by msgspec, then `RULES`) into a
`MinioSettings` with its derived values, cached until Django's settings change, and each distinct set of a
storage's constructor overrides parsed for that storage.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.views.decorators.debug import sensitive_variables
from minio.credentials.providers import Provider

from .aliases import alias_options
from .headers import object_headers
from .keys import ObjectKeys, normalise_prefix
from .masking import MaskedOptions
from .setting_rules import RULES, cache_timeout, seconds, window_seconds
from .settings import BOUNDS, CREDENTIAL_KEYS, URL_CACHE_KEYS, MinioSettings, Options, SettingError
from .signing import credentials_fingerprint

__all__ = ["get_settings", "parse_options", "settings_for"]

_RESOLVED: Final = frozenset(MinioSettings.__annotations__)  # MinioSettings computes these, whatever Options holds


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
    key_prefix = normalise_prefix(options.key_prefix)
    return MinioSettings(
        **kept,
        alias=alias,
        endpoint=options.endpoint.lower(),
        external_endpoint=(options.external_endpoint or options.endpoint).lower(),
        external_use_https=(
            options.use_https if options.external_endpoint_use_https is None else options.external_endpoint_use_https
        ),
        url_cache_timeout=cache_timeout(options),
        url_expiry_seconds=seconds(options.url_expiry),
        url_window_seconds=window_seconds(options),
        credentials_provider=_provider(options),
        credentials_id=_credentials_id(options),
        public_set=frozenset((*options.public_buckets, options.static_files_bucket)),
        all_buckets=tuple(dict.fromkeys((*options.private_buckets, *options.public_buckets, options.default_bucket))),
        key_prefix=key_prefix,
        staging_key_prefix=_staging_key_prefix(options, key_prefix),
        keys=ObjectKeys(key_prefix),
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


def _staging_key_prefix(options: Options, key_prefix: str) -> str | None:
    staging = options.direct_upload_prefix
    return None if staging is None else key_prefix + staging


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
