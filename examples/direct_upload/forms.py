"""The same model form twice: the file straight to the bucket, and (for comparison) through Django."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms

from django_minio_backend.direct import DirectUploadField

from .models import Upload

if TYPE_CHECKING:
    UploadModelForm = forms.ModelForm[Upload]
else:  # ModelForm takes no type argument at run time
    UploadModelForm = forms.ModelForm

MiB = 1024 * 1024
MAX_SIZE = 64 * MiB


class UploadForm(UploadModelForm):
    file = DirectUploadField(max_size=MAX_SIZE)

    class Meta:
        model = Upload
        fields = ["title", "file"]


class PlainUploadForm(UploadModelForm):
    """Django's own FileField: the browser posts the file to Django, which saves it to the bucket."""

    class Meta:
        model = Upload
        fields = ["title", "file"]
