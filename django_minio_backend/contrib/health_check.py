"""A django-health-check (4.x) check: is the MinIO server of one storage alias available?

Install the `health` extra and list one check per alias in your health view::

    from health_check.views import HealthCheckView
    from django_minio_backend.contrib.health_check import minio_health_checks

    path("health/", HealthCheckView.as_view(checks=[*minio_health_checks(), "health_check.checks.Database"]))

Each check calls the alias's `is_minio_available()`, so it answers within MINIO_HEALTH_CHECK_TIMEOUT (never
more than MINIO_REQUEST_DEADLINE); the view's own wait is set to that bound, so a server that does not answer
is reported with the probe's account of what it tried, not a generic timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import timedelta
from typing import cast

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from ..alias_settings import get_settings
from ..aliases import minio_aliases
from ..health import probe_timeout
from ..storage import MinioBackend

__all__ = ["MinioHealthCheck", "minio_health_checks"]


@dataclasses.dataclass
class MinioHealthCheck(HealthCheck):
    """The MinIO server of the `STORAGES` alias `alias` answers (its `is_minio_available()` is truthy)."""

    alias: str = "default"

    def __post_init__(self) -> None:
        with contextlib.suppress(ImproperlyConfigured):  # run() reports it; a health page must not fail to build
            self.timeout = timedelta(seconds=probe_timeout(get_settings(self.alias)))

    def run(self) -> None:
        """Synchronous on purpose: the view runs it in its executor, so the probe never blocks the event loop."""
        if self.alias not in minio_aliases():
            raise ServiceUnavailable(f"STORAGES[{self.alias!r}] is not a MinIO storage")
        storage = cast(MinioBackend, storages[self.alias])  # minio_aliases() lists only our backends
        status = storage.is_minio_available()
        if not status:
            raise ServiceUnavailable(status.details)


def minio_health_checks() -> list[tuple[type[MinioHealthCheck], dict[str, str]]]:
    """One check per MinIO storage alias, in the form `HealthCheckView(checks=...)` takes."""
    return [(MinioHealthCheck, {"alias": alias}) for alias in minio_aliases()]
