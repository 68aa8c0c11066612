"""A minimal Django project using django-minio-backend; the endpoint comes from the environment."""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "demo-only"
DEBUG = True
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_minio_backend.apps.DjangoMinioBackendConfig",
    "django.contrib.staticfiles",
    "examples.demo.gallery",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
MEDIA_URL = "/media/"

MINIO = {
    "MINIO_ENDPOINT": os.environ.get("DEMO_MINIO_ENDPOINT", "localhost:9000"),
    "MINIO_ACCESS_KEY": os.environ.get("DEMO_MINIO_ACCESS_KEY", "minioadmin"),
    "MINIO_SECRET_KEY": os.environ.get("DEMO_MINIO_SECRET_KEY", "minioadmin"),
    "MINIO_USE_HTTPS": False,
    "MINIO_URL_EXPIRY_HOURS": timedelta(hours=1),
    "MINIO_STATIC_FILES_BUCKET": "demo-static",
}
STORAGES = {
    "default": {
        "BACKEND": "django_minio_backend.models.MinioBackend",
        "OPTIONS": {
            **MINIO,
            "MINIO_PRIVATE_BUCKETS": ["demo-private"],
            "MINIO_PUBLIC_BUCKETS": ["demo-public"],
            "MINIO_DEFAULT_BUCKET": "demo-private",
        },
    },
    "staticfiles": {"BACKEND": "django_minio_backend.models.MinioBackendStatic", "OPTIONS": MINIO},
}
