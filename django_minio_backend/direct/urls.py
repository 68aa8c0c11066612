"""URLs of the direct-upload views: `path("uploads/", include("django_minio_backend.direct.urls"))`."""

from django.urls import path

from . import views

app_name = "django_minio_backend_direct"

urlpatterns = [
    path("ticket/", views.ticket, name="ticket"),
    path("parts/", views.parts, name="parts"),
    path("complete/", views.complete, name="complete"),
    path("abort/", views.abort, name="abort"),
]
