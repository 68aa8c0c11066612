"""Django settings for the test suite; STORAGES endpoints are filled in by tests/conftest.py."""

from datetime import timedelta

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_minio_backend.apps.DjangoMinioBackendConfig",
    "django.contrib.staticfiles",
    "sorl.thumbnail",
    "tests.testapp",
    "examples.direct_upload.apps.DirectUploadExampleConfig",  # the direct-upload example page
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
MEDIA_URL = "/media/"
ROOT_URLCONF = "tests.urls"
THUMBNAIL_DEBUG = True  # sorl-thumbnail (tests/test_thumbnails.py) raises instead of rendering nothing
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

PRIVATE_BUCKET = "test-media-private"
PUBLIC_BUCKET = "test-media-public"
STATIC_BUCKET = "test-static"
ARCHIVE_BUCKET = "test-orphans-a"  # used only by the orphan-cleaner tests, which empty them
BACKUP_BUCKET = "test-orphans-b"

_PLACEHOLDER = {
    "MINIO_ENDPOINT": "127.0.0.1:9",
    "MINIO_ACCESS_KEY": "unset",
    "MINIO_SECRET_KEY": "unset",
}
STORAGES = {
    "default": {
        "BACKEND": "django_minio_backend.models.MinioBackend",
        "OPTIONS": {
            **_PLACEHOLDER,
            "MINIO_PRIVATE_BUCKETS": [PRIVATE_BUCKET],
            "MINIO_PUBLIC_BUCKETS": [PUBLIC_BUCKET],
            "MINIO_DEFAULT_BUCKET": PRIVATE_BUCKET,
            "MINIO_STATIC_FILES_BUCKET": STATIC_BUCKET,
            "MINIO_URL_EXPIRY_HOURS": timedelta(hours=2),
        },
    },
    "staticfiles": {
        "BACKEND": "django_minio_backend.models.MinioBackendStatic",
        "OPTIONS": {**_PLACEHOLDER, "MINIO_STATIC_FILES_BUCKET": STATIC_BUCKET},
    },
    "archive": {
        "BACKEND": "django_minio_backend.models.MinioBackend",
        "OPTIONS": {
            **_PLACEHOLDER,
            "MINIO_PRIVATE_BUCKETS": [ARCHIVE_BUCKET, BACKUP_BUCKET],
            "MINIO_DEFAULT_BUCKET": ARCHIVE_BUCKET,
        },
    },
}
