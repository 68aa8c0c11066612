"""The URLconf of the example project (run.py, measure.py and the browser tests)."""

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

urlpatterns = [
    path("", include("examples.direct_upload.urls")),
    path("uploads/", include("django_minio_backend.direct.urls")),
    path("accounts/login/", LoginView.as_view(template_name="admin/login.html"), name="login"),
    path("admin/", admin.site.urls),
]
