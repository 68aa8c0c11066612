"""App config: settings are parsed at start-up, so configuration errors surface before the first request."""

from __future__ import annotations

import logging
import sys

from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .alias_settings import get_settings
from .aliases import minio_aliases
from .bucket_plan import plan
from .bucket_setup import initialize_buckets
from .checks import check_minio_deploy, check_minio_settings, parse_error_id

logger = logging.getLogger("django_minio_backend")

# Commands that exist to report problems: at start-up they neither fail on bad settings nor touch the server.
DIAGNOSTIC_COMMANDS = frozenset({"check", "is_minio_available"})


class BucketInitializationError(RuntimeError):
    """MINIO_CONSISTENCY_CHECK_ON_START could not bring the buckets in line with the settings."""


class DjangoMinioBackendConfig(AppConfig):
    name = "django_minio_backend"
    verbose_name = "MinIO storage backend"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        checks.register(check_minio_settings)
        checks.register(check_minio_deploy, deploy=True)
        if running_command() in DIAGNOSTIC_COMMANDS:
            return
        flagged = [alias for alias, on_start in parse_all() if on_start]
        if flagged:
            initialize_on_start(flagged)


def running_command() -> str | None:
    """The management command this process runs: like Django, the first argument (`manage.py NAME ...`)."""
    return sys.argv[1] if len(sys.argv) > 1 else None


def parse_all() -> list[tuple[str, bool]]:
    """Parse every MinIO alias; returns (alias, MINIO_CONSISTENCY_CHECK_ON_START). Errors carry their check id."""
    found: list[tuple[str, bool]] = []
    for alias in minio_aliases():
        try:
            found.append((alias, get_settings(alias).consistency_check_on_start))
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"{exc} [{parse_error_id(exc)}]") from exc
    return found


def initialize_on_start(aliases: list[str]) -> None:
    """Create the missing buckets of these aliases and apply their policies, once for all of them."""
    reports = initialize_buckets(plan(aliases))
    for report in reports:
        if report.error is None and report.actions:
            logger.info("MINIO_CONSISTENCY_CHECK_ON_START: %s", report.describe())
    failed = [report.describe() for report in reports if report.error is not None]
    if failed:
        raise BucketInitializationError("MINIO_CONSISTENCY_CHECK_ON_START failed: " + "; ".join(failed))
