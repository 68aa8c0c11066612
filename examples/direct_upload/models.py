"""One model with a plain FileField: the direct upload is a matter of the form, not of the model."""

from __future__ import annotations

from django.db import models


class Upload(models.Model):
    title = models.CharField(max_length=100, blank=True)
    file = models.FileField(upload_to="uploads/", max_length=255)  # default_storage: a MinioBackend

    def __str__(self) -> str:
        return self.title or self.file.name or ""
