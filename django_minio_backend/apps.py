"""App config: every MinIO alias is parsed at start-up so configuration errors surface early."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoMinioBackendConfig(AppConfig):
    name = "django_minio_backend"
    verbose_name = "MinIO storage backend"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from .settings import get_settings, minio_aliases

        for alias in minio_aliases():
            get_settings(alias)
