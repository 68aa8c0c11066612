"""MinioManifestStaticStorage: Django's hashed static file names, with the manifest kept in the static bucket."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from functools import partial
from typing import IO, Any

from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files.base import ContentFile, File
from django.utils.deconstruct import deconstructible

from .batch import UploadBatch
from .errors import is_not_found
from .names import clean_name
from .static import MinioBackendStatic

IMMUTABLE = "public, max-age=31536000, immutable"


@deconstructible(path="django_minio_backend.models.MinioManifestStaticStorage")
class MinioManifestStaticStorage(ManifestFilesMixin, MinioBackendStatic):  # type: ignore[misc]  # Django's url(name, force)
    """Hashed file names for cache busting; `{% static %}` gives public URLs of the hashed copies.

    The manifest (staticfiles.json, in the bucket) is read on first use, not when the storage is
    built, and kept for the life of the process. During collectstatic the hashes come from the local
    sources, so nothing is downloaded; hashed copies already stored with the same bytes are not sent
    again, new ones upload in parallel, and the manifest is written once all of them are stored.
    Deletes that Django's post-processing asks for run last and skip names it wrote again, so a live
    site never sees a hashed file or the manifest missing.
    """

    _deferred_deletes: set[str] | None = None
    _batch: UploadBatch | None = None
    hashed_cache_control: str = IMMUTABLE  # Cache-Control of hashed names, whatever MINIO_OBJECT_PARAMETERS says

    def get_object_parameters(self, name: str) -> Mapping[str, object]:
        """Hashed names never change content, so they are cached for a year; every other name (the manifest, the
        unhashed copies) gets the alias's MINIO_OBJECT_PARAMETERS."""
        if name in self._hashed_names:
            return {"CacheControl": self.hashed_cache_control}
        return super().get_object_parameters(name)

    def __init__(self, bucket_name: str = "", storage_name: str | None = None, **options: Any) -> None:
        self._manifest: tuple[dict[str, str], str] | None = None
        self._defer_manifest = True
        self._in_flight: dict[str, str] = {}
        self._hashed_names: set[str] = set()  # names post-processing saved: all hashed but the manifest
        super().__init__(bucket_name=bucket_name, storage_name=storage_name, **options)
        self._defer_manifest = False
        self._manifest = None  # whatever __init__ assigned: the manifest is read on first use

    # -- the manifest, loaded lazily ------------------------------------------------------------
    # Django assigns `hashed_files` and `manifest_hash` in __init__; as properties they load on first read.
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
            key = self.settings.keys.key(clean_name(self.manifest_name))
            response = self.client.get_object(bucket_name=self.bucket, object_name=key)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        try:
            return response.read().decode()
        finally:
            response.close()
            response.release_conn()

    def save_manifest(self) -> None:
        """Written only once every hashed file it lists is stored."""
        if self._batch is not None:
            self._batch.wait()
        super().save_manifest()

    # -- post-processing ------------------------------------------------------------------------
    def post_process(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self._deferred_deletes, self._in_flight = set(), {}
        self._batch = batch = UploadBatch(self.settings.upload_workers)
        try:
            yield from super().post_process(*args, **kwargs)
            batch.wait()
            pending = sorted(self._deferred_deletes)
        finally:
            batch.stop()
            self._batch, self._deferred_deletes, self._in_flight = None, None, {}
        for name in pending:
            self.delete(name)

    def delete(self, name: str) -> None:
        if self._deferred_deletes is not None:
            self._deferred_deletes.add(clean_name(name))
            return
        super().delete(name)

    def _save(self, name: str, content: File[Any] | IO[Any]) -> str:
        """While post-processing, small files are queued on the upload pool (their bytes held in memory)."""
        name = clean_name(name)
        if self._deferred_deletes is not None:
            self._deferred_deletes.discard(name)
            if name != self.manifest_name:
                self._hashed_names.add(name)
        size = getattr(content, "size", None)
        batch = self._batch
        if batch is None or not isinstance(size, int) or size >= self.settings.multipart_threshold:
            return super()._save(name, content)
        data = _read_bytes(content)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if self._in_flight.get(name) == md5 or self.holds(name, md5):
            return name  # Django saves each hashed name more than once per run
        self._in_flight[name] = md5
        batch.submit(name, partial(super()._save, name, ContentFile(data)))
        return name


def _read_bytes(content: File[Any] | IO[Any]) -> bytes:
    if hasattr(content, "seek"):
        content.seek(0)
    data = content.read()
    return data.encode() if isinstance(data, str) else bytes(data)
