from typing import TYPE_CHECKING

from django.contrib import admin
from django.db import models

from django_minio_backend.direct import DirectUploadField

from .forms import MAX_SIZE
from .models import Upload

if TYPE_CHECKING:
    UploadModelAdmin = admin.ModelAdmin[Upload]
else:  # ModelAdmin takes no type argument at run time
    UploadModelAdmin = admin.ModelAdmin


@admin.register(Upload)
class UploadAdmin(UploadModelAdmin):
    list_display = ["id", "title", "file"]
    # Every FileField of this admin uploads from the browser to the bucket (the admin's own file widget is
    # replaced by the field's).
    formfield_overrides = {models.FileField: {"form_class": DirectUploadField, "max_size": MAX_SIZE}}
