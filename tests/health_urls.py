"""A URLconf with django-health-check's view over every MinIO alias (used by test_health_check.py only: the
`health` extra needs Django 5.2+, so the main URLconf must not import it)."""

from django.urls import path
from health_check.views import HealthCheckView

from django_minio_backend.contrib.health_check import minio_health_checks

urlpatterns = [path("health/", HealthCheckView.as_view(checks=minio_health_checks()))]
