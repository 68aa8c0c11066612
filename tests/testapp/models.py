"""Models exercising the storage through FileField, as user projects do."""

from __future__ import annotations

from django.db import models

from django_minio_backend import MinioBackend, iso_date_prefix
from tests.settings import ARCHIVE_BUCKET, BACKUP_BUCKET, PRIVATE_BUCKET, PUBLIC_BUCKET


def private_storage() -> MinioBackend:
    return MinioBackend(bucket_name=PRIVATE_BUCKET, storage_name="default")


def public_storage() -> MinioBackend:
    return MinioBackend(bucket_name=PUBLIC_BUCKET, storage_name="default")


class Document(models.Model):
    file = models.FileField(storage=private_storage, upload_to=iso_date_prefix)


class Picture(models.Model):
    file = models.FileField(storage=public_storage, upload_to="pictures/")


class Photo(models.Model):
    """An ImageField whose dimensions Django stores in two columns (read from the stored file when empty)."""

    image = models.ImageField(
        storage=private_storage, upload_to="photos/", width_field="width", height_field="height", max_length=200
    )
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)


# -- models for the orphan cleaner: several buckets, aliases and managers --------------------------
def archive_storage() -> MinioBackend:
    return MinioBackend(bucket_name=ARCHIVE_BUCKET, storage_name="archive")


def backup_storage() -> MinioBackend:
    return MinioBackend(bucket_name=BACKUP_BUCKET, storage_name="archive")


def archive_via_default_storage() -> MinioBackend:
    """The archive bucket again, through another alias of the same server."""
    return MinioBackend(bucket_name=ARCHIVE_BUCKET, storage_name="default")


class VisibleReportManager(models.Manager["Report"]):
    """A default manager that hides archived rows; their files are still referenced."""

    def get_queryset(self) -> models.QuerySet[Report]:
        return super().get_queryset().filter(archived=False)


class Report(models.Model):
    archived = models.BooleanField(default=False)
    file = models.FileField(storage=archive_storage, upload_to="reports/", max_length=300)

    objects = VisibleReportManager()


class Album(models.Model):
    """One FileField per bucket."""

    cover = models.FileField(storage=archive_storage, blank=True, max_length=300)
    backup = models.FileField(storage=backup_storage, blank=True, null=True, max_length=300)


class Scan(models.Model):
    file = models.FileField(storage=archive_via_default_storage, blank=True, max_length=300)


class ShownAttachmentManager(models.Manager["Attachment"]):
    """A base manager that hides rows marked hidden; their files are still referenced."""

    def get_queryset(self) -> models.QuerySet[Attachment]:
        return super().get_queryset().filter(hidden=False)


class Attachment(models.Model):
    """Its base manager (which Django uses for related lookups) filters rows."""

    hidden = models.BooleanField(default=False)
    file = models.FileField(storage=backup_storage, max_length=300)

    objects = models.Manager()
    shown = ShownAttachmentManager()

    class Meta:
        base_manager_name = "shown"
