"""Reprs without secrets: OPTIONS whose repr stars out secret values, and URLs without their password."""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

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
