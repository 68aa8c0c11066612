"""Keeps the import path of the previous release: `django_minio_backend.models.MinioBackend`."""

from .health import MinioServerStatus
from .manifest import MinioManifestStaticStorage
from .names import get_iso_date, iso_date_prefix
from .static import MinioBackendStatic
from .storage import MinioBackend

__all__ = [
    "MinioBackend",
    "MinioBackendStatic",
    "MinioManifestStaticStorage",
    "MinioServerStatus",
    "get_iso_date",
    "iso_date_prefix",
]
