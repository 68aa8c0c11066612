"""Static files: MinioBackendStatic (metadata from one bucket listing) and its hashed-names variant."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from datetime import datetime
from functools import cached_property
from typing import IO, Any, ClassVar

from django.conf import settings as django_settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files.base import File
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from minio.deleteobjects import DeleteObject

from .errors import is_not_found
from .listing import NOT_LISTED, BucketListing, ListedObject, listing_for
from .names import clean_name
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

    def __init__(self, bucket_name: str = "", storage_name: str | None = None, **options: Any) -> None:
        options.setdefault("replace_existing", True)  # collectstatic replaces files in place
        if bucket_name:  # a static bucket is public whatever its name: its URLs are never signed
            options.setdefault("MINIO_STATIC_FILES_BUCKET", bucket_name)
        super().__init__(bucket_name=bucket_name, storage_name=storage_name, **options)

    def _default_bucket(self) -> str:
        return self.settings.static_files_bucket

    def _on_setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        super()._on_setting_changed(setting=setting, **kwargs)
        if setting == "STORAGES":
            self.__dict__.pop("listing", None)

    @cached_property
    def listing(self) -> BucketListing:
        """The process-wide listing of this storage's bucket."""
        return listing_for(self.client, self.bucket, self.settings.static_listing_ttl)

    def holding_listing(self) -> Any:
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
        md5 = _content_md5(content)
        stored = self.listing.peek(name)
        if md5 is not None and stored is not None and stored.md5 == md5:
            return name
        saved = super()._save(name, content)
        size = getattr(content, "size", None)
        self.listing.record_saved(saved, size if isinstance(size, int) and size >= 0 else None, md5)
        return saved

    def delete(self, name: str) -> None:
        name = clean_name(name)
        super().delete(name)
        self.listing.record_deleted(name)

    def delete_many(self, names: Iterable[str]) -> None:
        """Delete objects in batched DeleteObjects requests (1,000 keys each); any failure raises naming them."""
        cleaned = [clean_name(name) for name in names]
        errors = self.client.remove_objects(
            bucket_name=self.bucket, delete_object_list=(DeleteObject(name=name) for name in cleaned)
        )
        failed = {error.name: f"{error.code}: {error.message}" for error in errors}
        for name in cleaned:
            if name not in failed:
                self.listing.record_deleted(name)
        if failed:
            details = "; ".join(f"{name} ({reason})" for name, reason in sorted(failed.items(), key=str))
            raise OSError(f"Could not delete from {self.bucket}: {details}")


def _content_md5(content: File[Any] | IO[Any]) -> str | None:
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


@deconstructible(path="django_minio_backend.models.MinioManifestStaticStorage")
class MinioManifestStaticStorage(ManifestFilesMixin, MinioBackendStatic):  # type: ignore[misc]  # Django's url(name, force)
    """Hashed file names for cache busting, with the manifest (staticfiles.json) kept in the static bucket.

    The manifest is read on first use (not when the storage is built) and then kept for the life of
    the process. Hashes come from the local source files during collectstatic, so re-runs download
    nothing; a hashed file already stored with the same bytes is not uploaded again, and deletes
    Django's post-processing asks for are applied only after everything is written, skipping names
    it writes again, so a live site never sees a hashed file or the manifest missing.
    """

    _deferred_deletes: set[str] | None = None

    def __init__(self, bucket_name: str = "", storage_name: str | None = None, **options: Any) -> None:
        self._manifest: tuple[dict[str, str], str] | None = None
        self._defer_manifest = True
        super().__init__(bucket_name=bucket_name, storage_name=storage_name, **options)
        self._defer_manifest = False
        self._manifest = None  # whatever __init__ assigned: the manifest is read on first use

    # Django assigns `hashed_files` and `manifest_hash` in __init__; these properties make that lazy.
    @property
    def hashed_files(self) -> dict[str, str]:
        return self._loaded_manifest()[0]

    @hashed_files.setter
    def hashed_files(self, value: dict[str, str]) -> None:
        self._manifest = (value, self._manifest[1] if self._manifest is not None else "")

    @property
    def manifest_hash(self) -> str:
        return self._loaded_manifest()[1]

    @manifest_hash.setter
    def manifest_hash(self, value: str) -> None:
        self._manifest = (self._manifest[0] if self._manifest is not None else {}, value)

    def _loaded_manifest(self) -> tuple[dict[str, str], str]:
        if self._manifest is None:
            paths, manifest_hash = self.load_manifest()
            self._manifest = (paths, manifest_hash)
        return self._manifest

    def load_manifest(self) -> Any:
        if self._defer_manifest:
            return {}, ""
        return super().load_manifest()

    def read_manifest(self) -> Any:
        """One GET (not HEAD + GET); None when there is no manifest yet, any other failure raises."""
        if self.manifest_storage is not self:
            return super().read_manifest()
        try:
            response = self.client.get_object(bucket_name=self.bucket, object_name=self.manifest_name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        try:
            return response.read().decode()
        finally:
            response.close()
            response.release_conn()

    def post_process(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self._deferred_deletes = set()
        try:
            yield from super().post_process(*args, **kwargs)
            pending = sorted(self._deferred_deletes)
        finally:
            self._deferred_deletes = None
        for name in pending:
            self.delete(name)

    def delete(self, name: str) -> None:
        if self._deferred_deletes is not None:
            self._deferred_deletes.add(clean_name(name))
            return
        super().delete(name)

    def _save(self, name: str, content: File[Any] | IO[Any]) -> str:
        if self._deferred_deletes is not None:
            self._deferred_deletes.discard(clean_name(name))
        return super()._save(name, content)
