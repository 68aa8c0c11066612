"""What a direct-upload field accepts: a size range and content types (the type follows the file's name, headers.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ..headers import content_type_for


@dataclass(frozen=True, slots=True)
class UploadRules:
    """`content_types` holds exact types ("application/pdf") and prefixes ending with "/" ("image/"); empty
    means any type."""

    max_size: int
    min_size: int = 1
    content_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.min_size <= self.max_size:
            raise ValueError(f"need 1 <= min_size <= max_size, got {self.min_size} and {self.max_size}")
        for allowed in self.content_types:
            if allowed.count("/") != 1 or allowed.startswith("/"):
                raise ValueError(f'content types are "type/subtype" or "type/" prefixes, not {allowed!r}')

    def allows(self, content_type: str) -> bool:
        return not self.content_types or any(
            content_type.startswith(allowed) if allowed.endswith("/") else content_type == allowed
            for allowed in self.content_types
        )

    def size_problem(self, size: int) -> str | None:
        if size > self.max_size:
            return f"The file is {size} bytes; at most {self.max_size} are allowed."
        if size < self.min_size:
            return "The file is empty." if size == 0 else f"The file must be at least {self.min_size} bytes."
        return None

    def type_problem(self, file_name: str) -> str | None:
        content_type = content_type_for(file_name)
        if self.allows(content_type):
            return None
        return f"Files of type {content_type} are not allowed."

    @property
    def accept(self) -> str:
        """The `accept` attribute of the file input: a hint to the browser's file picker, never a check."""
        return ",".join(allowed + "*" if allowed.endswith("/") else allowed for allowed in self.content_types)
