"""Settings of the example project: the endpoint and the page's origin come from the environment (run.py)."""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "example-only"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_minio_backend.apps.DjangoMinioBackendConfig",
    "django.contrib.staticfiles",
    "examples.direct_upload.apps.DirectUploadExampleConfig",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "examples.direct_upload.project_urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("EXAMPLE_DB", ":memory:")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
LOGIN_URL = "/accounts/login/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # the direct form posts a token; only the plain form posts a file

MINIO = {
    "MINIO_ENDPOINT": os.environ.get("EXAMPLE_MINIO_ENDPOINT", "localhost:9000"),
    "MINIO_ACCESS_KEY": os.environ.get("EXAMPLE_MINIO_ACCESS_KEY", "minioadmin"),
    "MINIO_SECRET_KEY": os.environ.get("EXAMPLE_MINIO_SECRET_KEY", "minioadmin"),
    "MINIO_URL_EXPIRY_HOURS": timedelta(hours=1),
}
STORAGES = {
    "default": {
        "BACKEND": "django_minio_backend.models.MinioBackend",
        "OPTIONS": {
            **MINIO,
            "MINIO_PRIVATE_BUCKETS": ["example-media"],
            "MINIO_DEFAULT_BUCKET": "example-media",
            "MINIO_DIRECT_UPLOAD_PREFIX": "direct-uploads/",
            "MINIO_CORS_ALLOWED_ORIGINS": [os.environ.get("EXAMPLE_ORIGIN", "http://127.0.0.1:8000")],
            "MINIO_MULTIPART_UPLOAD": True,  # the plain form's save() uses parts too, like the browser
        },
    },
    # Static files from the app directories, served by runserver: the widget's script and style.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
