"""Keeps the import path of the previous release: `django_minio_backend.models.MinioBackend`."""

from . import *  # noqa: F403 - the package's public names, listed once in __init__
from . import __all__ as __all__
