"""The name a save() stores its object under: Django's name rules, without the extra HEAD of a create-only write.

Django picks a free name in get_available_name() (a HEAD per try) and then writes. A create-only write asks the
server to refuse a taken name instead, which is one request and never overwrites a concurrent save; when refused,
the storage moves to an alternative name that still fits `max_length`. Django checks `max_length` when it picks
the name but does not pass it on to _save(), so `save()` carries it in a ContextVar (`_saving`), set for that call
in that thread or task only; it also tells get_available_name() that the write itself checks the name.
"""

from __future__ import annotations

import pathlib
import posixpath
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import Storage
from django.core.files.utils import validate_file_name

from .names import clean_name

__all__ = ["MAX_RENAMES", "AvailableNames", "saving_max_length"]

MAX_RENAMES: Final = 100  # alternative names a save tries before giving up


@dataclass(frozen=True, slots=True)
class _Saving:
    """A save() in progress in this thread or task."""

    max_length: int | None


_saving: ContextVar[_Saving | None] = ContextVar("_saving", default=None)


def saving_max_length() -> int | None:
    """The `max_length` of the save() in progress in this thread or task (None: none, or no limit)."""
    saving = _saving.get()
    return saving.max_length if saving is not None else None


class AvailableNames(Storage):
    """Storage's naming half of MinioBackend: `save()`, `get_available_name()` and the alternative names a
    create-only write moves to when its name is taken."""

    replace_existing: bool

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """Django's collision renaming, unless this storage replaces existing objects or a create-only
        save() is asking: its final write is refused if the name is taken (and the upload moves to an
        alternative name then), so the exists() request would only repeat that check."""
        name = clean_name(name)
        too_long = max_length is not None and len(name) > max_length
        if self.replace_existing:
            if too_long:
                raise SuspiciousFileOperation(f"Storage name {name!r} is longer than {max_length} characters")
            return name
        if _saving.get() is None or too_long:
            return super().get_available_name(name, max_length)
        validate_file_name(posixpath.basename(name))
        return name

    def _alternative_name(self, name: str, max_length: int | None) -> str:
        """The next name to try after `name` was found taken: Django's alternative name (a random
        suffix before the extensions), its root shortened to fit `max_length`."""
        directory, file_name = posixpath.split(name)
        extension = "".join(pathlib.PurePosixPath(file_name).suffixes)
        root = file_name.removesuffix(extension)
        candidate = posixpath.join(directory, self.get_alternative_name(root, extension))
        excess = len(candidate) - max_length if max_length is not None else 0
        if excess > 0:
            if excess >= len(root):
                raise SuspiciousFileOperation(
                    f"Storage can not find an available filename for {name!r}: max_length {max_length} is too short"
                )
            candidate = posixpath.join(directory, self.get_alternative_name(root[:-excess], extension))
        return clean_name(candidate)

    def _under_free_name(
        self, name: str, max_length: int | None, write: Callable[[str], str | None], where: str
    ) -> tuple[str, str]:
        """`write(name)`, then `write` of alternative names while it answers None (taken: nothing was written), up to
        MAX_RENAMES tries; the name written and what `write` answered (the ETag). `where` names the bucket."""
        target = name
        for _ in range(MAX_RENAMES):
            etag = write(target)
            if etag is not None:
                return target, etag
            target = self._alternative_name(name, max_length)
        raise FileExistsError(f"no free name found for {where}/{name} after {MAX_RENAMES} attempts")

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Django's save(), with `max_length` kept for _save() (see the module docstring)."""
        token = _saving.set(_Saving(max_length))
        try:
            return super().save(name, content, max_length=max_length)
        finally:
            _saving.reset(token)
