"""Keeps the import path of the previous release: `django_minio_backend.models.MinioBackend`."""

from .health import MinioServerStatus
from .names import get_iso_date, iso_date_prefix
from .storage import MinioBackend, MinioBackendStatic

__all__ = ["MinioBackend", "MinioBackendStatic", "MinioServerStatus", "get_iso_date", "iso_date_prefix"]
