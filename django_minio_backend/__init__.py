"""A strictly typed, fast Django storage backend for MinIO and other S3-compatible servers."""

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
