"""MinioBackendStatic: static files, with metadata answered from one bucket listing (hashed names: manifest.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import IO, Any, ClassVar

from django.conf import settings as django_settings
from django.core.files.base import File
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from minio.deleteobjects import DeleteObject

from .aliases import STATIC
from .listing import NOT_LISTED, BucketListing, ListedObject, listing_for
from .names import clean_name, clean_prefix
from .storage import MinioBackend

HASH_CHUNK = 1024 * 1024


@deconstructible(path="django_minio_backend.models.MinioBackendStatic")
class MinioBackendStatic(MinioBackend):
    """Static files in the always-public MINIO_STATIC_FILES_BUCKET of the `staticfiles` alias.

    `exists()`, `size()` and `get_modified_time()` are answered from a short-lived listing of the
    bucket once a process asks many of them (see `django_minio_backend.listing` for the rule), and
    saving bytes identical to the stored object is skipped.
    """

    default_alias: ClassVar[str] = "staticfiles"
    minio_role: ClassVar[str] = STATIC

    def __init__(
        self,
        bucket_name: str = "",
        storage_name: str | None = None,
        replace_existing: bool = True,  # collectstatic replaces files in place
        **options: Any,
    ) -> None:
        if bucket_name:  # a static bucket is public whatever its name: its URLs are never signed
            options.setdefault("MINIO_STATIC_FILES_BUCKET", bucket_name)
        super().__init__(bucket_name, storage_name, replace_existing, **options)

    def _default_bucket(self) -> str:
        return self.settings.static_files_bucket

    @property
    def listing(self) -> BucketListing:
        """This process's listing of the storage's bucket, looked up at each use (a forked child lists anew)."""
        return listing_for(self.settings, self.bucket, self.settings.static_listing_ttl)

    def holding_listing(self) -> AbstractContextManager[None]:
        """Context manager for a bulk pass: one listing answers every lookup until the block ends.

        Does nothing when MINIO_STATIC_LISTING_TTL is 0 (listing turned off).
        """
        return self.listing.held() if self.settings.static_listing_ttl > 0 else nullcontext()

    def _listed(self, name: str) -> ListedObject:
        """The listing's answer, or the server's when the listing does not answer (FileNotFoundError if absent)."""
        found = self.listing.lookup(name)
        if found is NOT_LISTED:
            stat = self._stat(name)
            if stat.last_modified is None:
                raise OSError(f"The server reported no modification time for {self.bucket}/{name}")
            return ListedObject(size=stat.size, modified=stat.last_modified, md5=None)
        if found is None:
            raise FileNotFoundError(f"{self.bucket}/{name} does not exist")
        return found

    def _check_bucket(self) -> None:
        self.listing.charge_lookup()  # keeps a bulk pass within its request bound
        super()._check_bucket()

    def exists(self, name: str) -> bool:
        try:
            self._listed(clean_name(name))
        except FileNotFoundError:
            return False
        return True

    def size(self, name: str) -> int:
        name = clean_name(name)
        size = self._listed(name).size
        if size is None:
            return super().size(name)  # saved by this process from a stream of unknown length
        return size

    def get_modified_time(self, name: str) -> datetime:
        modified = self._listed(clean_name(name)).modified
        if getattr(django_settings, "USE_TZ", True):
            return modified
        return timezone.make_naive(modified)

    def _save(self, name: str, content: File[Any] | IO[Any]) -> str:
        """Upload unless the stored object already holds these exact bytes; keep the listing current."""
        name = clean_name(name)
        md5 = content_md5(content)
        if md5 is not None and self.holds(name, md5):
            return name
        saved = super()._save(name, content)
        size = getattr(content, "size", None)
        self.listing.record_saved(saved, size if isinstance(size, int) and size >= 0 else None, md5)
        return saved

    def holds(self, name: str, md5: str) -> bool:
        """True when the current listing shows `name` stored with this content MD5 (never makes a request)."""
        stored = self.listing.peek(name)
        return stored is not None and stored.md5 == md5

    def delete(self, name: str) -> None:
        name = clean_name(name)
        super().delete(name)
        self.listing.record_deleted(name)

    def names_under(self, path: str) -> list[str]:
        """Every name under `path`, however deep, from one listing (of the key prefix only)."""
        keys = self.settings.keys
        listed = self.client.list_objects(
            bucket_name=self.bucket, prefix=keys.key(clean_prefix(path)) or None, recursive=True
        )
        names = (keys.name(item.object_name) for item in listed if item.object_name is not None and not item.is_dir)
        return [name for name in names if name is not None]

    def delete_many(self, names: Iterable[str]) -> None:
        """Delete objects in batched DeleteObjects requests (1,000 keys each); any failure raises naming them."""
        keys = self.settings.keys
        cleaned = {keys.key(clean_name(name)): clean_name(name) for name in names}  # key -> name
        errors = self.client.remove_objects(
            bucket_name=self.bucket, delete_object_list=(DeleteObject(name=key) for key in cleaned)
        )
        failed = {error.name: f"{error.code}: {error.message}" for error in errors}
        for key, name in cleaned.items():
            if key not in failed:
                self.listing.record_deleted(name)
        if failed:
            details = "; ".join(f"{name} ({reason})" for name, reason in sorted(failed.items(), key=str))
            raise OSError(f"Could not delete from {self.bucket}: {details}")


def content_md5(content: File[Any] | IO[Any]) -> str | None:
    """MD5 of seekable content (then rewound), or None when it can only be read once."""
    seekable = getattr(content, "seekable", None)
    if not hasattr(content, "seek") or (callable(seekable) and not seekable()):
        return None
    content.seek(0)
    digest = hashlib.md5(usedforsecurity=False)
    while chunk := content.read(HASH_CHUNK):
        digest.update(chunk.encode() if isinstance(chunk, str) else chunk)
    content.seek(0)
    return digest.hexdigest()
