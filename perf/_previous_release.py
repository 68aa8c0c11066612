"""Child process of perf/urls.py: times url() of the previous release (django-minio-backend 4.4.4).

Its module is also called django_minio_backend, so it runs here, with PYTHONPATH pointing at a --target
install and this directory (not the repository) first on sys.path. Prints one JSON object: µs per call.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import django
from _timing import interleaved, us_per_call  # type: ignore[import-not-found]  # perf/ is on sys.path
from django.conf import settings


def main() -> None:
    config = json.loads(sys.argv[1])
    options = {
        "MINIO_ENDPOINT": config["endpoint"],
        "MINIO_ACCESS_KEY": config["access_key"],
        "MINIO_SECRET_KEY": config["secret_key"],
        "MINIO_USE_HTTPS": False,
        "MINIO_REGION": "us-east-1",
        "MINIO_PRIVATE_BUCKETS": [config["private"]],
        "MINIO_PUBLIC_BUCKETS": [config["public"]],
        "MINIO_DEFAULT_BUCKET": config["private"],
        "MINIO_URL_EXPIRY_HOURS": timedelta(seconds=config["expiry"]),
    }
    settings.configure(
        INSTALLED_APPS=[],
        USE_TZ=True,
        STORAGES={"default": {"BACKEND": "django_minio_backend.models.MinioBackend", "OPTIONS": options}},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        MINIO_URL_CACHING_ENABLED=False,
    )
    django.setup()
    import django_minio_backend
    from django_minio_backend.models import MinioBackend

    if not django_minio_backend.__file__ or not django_minio_backend.__file__.startswith(config["target"]):
        raise SystemExit(f"imported the wrong django_minio_backend: {django_minio_backend.__file__}")
    names: list[str] = config["names"]
    private = MinioBackend(bucket_name=config["private"])
    public = MinioBackend(bucket_name=config["public"])
    results = interleaved({"private": (private.url, names), "public": (public.url, names)}, passes=config["passes"])
    settings.MINIO_URL_CACHING_ENABLED = True  # read by the constructor, from the top level of settings
    cached = MinioBackend(bucket_name=config["private"])
    results["cached"] = us_per_call(cached.url, names[: config["cached_names"]], passes=min(3, config["passes"]))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
