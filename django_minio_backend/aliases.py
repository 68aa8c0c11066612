"""The STORAGES setting, read: which aliases are ours (static or media), the settings OPTIONS each gives, and
which alias a storage belongs to.

Django builds a storage as `BACKEND(**OPTIONS)` without saying for which alias, so a storage finds its alias
by the keyword arguments it was built with. OPTIONS may hold the storage constructor's own parameters
(`CONSTRUCTOR_KEYS`, e.g. `bucket_name` as django-storages users write it): they configure the instance and
are not settings. Nothing here parses settings (settings.py does) or imports a storage class: a class says
what it serves by its `minio_role`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .masking import MaskedOptions

CONSTRUCTOR_KEYS: Final = frozenset({"bucket_name", "storage_name", "replace_existing"})
MEDIA: Final = "media"
STATIC: Final = "static"


def _storages() -> Mapping[str, Any]:
    storages: Mapping[str, Any] = getattr(django_settings, "STORAGES", {}) or {}
    return storages


def _backend(alias: str) -> type | None:
    """The alias's BACKEND class, or None when it cannot be imported (then it is not ours)."""
    try:
        backend = import_string(_storages()[alias]["BACKEND"])
    except ImportError:
        return None
    return backend if isinstance(backend, type) else None


def role(alias: str) -> str | None:
    """MEDIA or STATIC when the alias's BACKEND is one of our storage classes (or a subclass), else None."""
    found = getattr(_backend(alias), "minio_role", None)
    return found if isinstance(found, str) and found in (MEDIA, STATIC) else None


def minio_aliases() -> list[str]:
    """STORAGES aliases whose backend is one of ours (or a subclass), in STORAGES order."""
    return [str(alias) for alias in _storages() if role(alias) is not None]


def is_static_alias(alias: str) -> bool:
    """True when the alias's backend is MinioBackendStatic (or a subclass)."""
    return role(alias) == STATIC


def _options(alias: str) -> MaskedOptions:
    """A copy of the alias's whole OPTIONS; an unknown alias is an error, never a fallback to 'default'."""
    config = _storages().get(alias)  # no local holds all of STORAGES
    if config is None:
        raise ImproperlyConfigured(f"STORAGES has no alias {alias!r}")
    options = config.get("OPTIONS") or {}
    if not isinstance(options, Mapping):
        raise ImproperlyConfigured(f"STORAGES[{alias!r}]['OPTIONS'] must be a dict")
    return MaskedOptions(options)


def _settings_part(options: Mapping[str, Any]) -> MaskedOptions:
    return MaskedOptions({name: options[name] for name in options if name not in CONSTRUCTOR_KEYS})


def alias_options(alias: str) -> MaskedOptions:
    """The settings OPTIONS of an alias: its keys but the constructor's, on top of those of the alias its
    `storage_name` names (one step: an alias named so must not name another in turn)."""
    options = _options(alias)
    named = options.get("storage_name")
    if named is None or named == alias:
        return _settings_part(options)
    base = _options(named)
    if base.get("storage_name", named) != named:
        raise ImproperlyConfigured(
            f"STORAGES[{alias!r}]['OPTIONS']['storage_name'] names {named!r}, whose OPTIONS name another alias "
            "in turn; name the alias that holds the settings"
        )
    return MaskedOptions({**_settings_part(base), **_settings_part(options)})


def _holds(alias: str, given: Mapping[str, Any]) -> bool:
    options = _storages()[alias].get("OPTIONS") or {}
    return isinstance(options, Mapping) and dict(options) == given


def alias_for(
    given: Mapping[str, Any], *, backend: type, default: str, named: str | None, complete: Collection[str]
) -> str:
    """The alias of a storage of class `backend` built with the keyword arguments `given`.

    - `given` is the OPTIONS of MinIO aliases (Django built the storage): that alias. Several hold the same
      OPTIONS, so the same settings: `default` if it is one of them, else the first in STORAGES whose BACKEND
      is `backend`, else the first.
    - Otherwise `named` (storage_name), else `default`, whose OPTIONS the keyword MINIO_* arguments override.
    - Unless `given` holds every key of `complete` (the required keys: a server and its credentials) without
      naming an alias: such a whole OPTIONS dict that no alias holds (a storage Django built before STORAGES
      changed, or `MinioBackend(**options)`) would take `default`'s other keys. That is an error.
    """
    if given:
        matches = [alias for alias in minio_aliases() if _holds(alias, given)]
        if matches:
            return min(matches, key=lambda alias: (alias != default, _backend(alias) is not backend))
    if named:
        return named
    if given and all(key in given for key in complete):
        raise ImproperlyConfigured(
            f"{backend.__name__}(...) got keyword arguments that no MinIO alias in STORAGES holds as its OPTIONS: "
            f"{sorted(given)}. They name a server and its credentials, so they are not overrides of {default!r}'s "
            "OPTIONS; pass storage_name='<alias>' to say which alias they override."
        )
    return default
