from django.db import models

from django_minio_backend import MinioBackend, iso_date_prefix


def public_storage() -> MinioBackend:
    return MinioBackend(bucket_name="demo-public", storage_name="default")


class Photo(models.Model):
    """Private by default: its URL is presigned."""

    title = models.CharField(max_length=100)
    image = models.FileField(upload_to=iso_date_prefix)


class Poster(models.Model):
    """Stored in a public bucket: its URL is plain."""

    image = models.FileField(storage=public_storage, upload_to="posters/")
