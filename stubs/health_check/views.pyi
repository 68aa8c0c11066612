from collections.abc import Iterable
from typing import Any

from django.views.generic import TemplateView

from .base import HealthCheck, HealthCheckResult

class HealthCheckView(TemplateView):
    checks: Iterable[type[HealthCheck] | str | tuple[type[HealthCheck] | str, dict[str, Any]]]
    results: list[HealthCheckResult]
