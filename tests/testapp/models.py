"""Models exercising the storage through FileField, as user projects do."""

from __future__ import annotations

from django.db import models

from django_minio_backend import MinioBackend, iso_date_prefix
from tests.settings import PRIVATE_BUCKET, PUBLIC_BUCKET


def private_storage() -> MinioBackend:
    return MinioBackend(bucket_name=PRIVATE_BUCKET, storage_name="default")


def public_storage() -> MinioBackend:
    return MinioBackend(bucket_name=PUBLIC_BUCKET, storage_name="default")


class Document(models.Model):
    file = models.FileField(storage=private_storage, upload_to=iso_date_prefix)


class Picture(models.Model):
    file = models.FileField(storage=public_storage, upload_to="pictures/")
