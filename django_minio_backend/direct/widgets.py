"""The widget of direct uploads: a file picker whose file the browser sends to the bucket itself.

It renders a file input without a name (so the form never carries the file), a hidden input that receives
the signed token once the upload is done, a progress bar and a cancel button. The script
(static `django_minio_backend/direct-upload.js`, plain JavaScript, no build step) asks the ticket view for an
upload, sends the file (one form POST, or parts in parallel), and fills in the token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.core import signing
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _

from .tokens import FieldSpec, Staged, TamperedToken, dump, load

__all__ = ["DirectUploadWidget"]

URL_NAMES = ("ticket", "parts", "complete", "abort")


class DirectUploadWidget(forms.Widget):
    template_name = "django_minio_backend/widgets/direct_upload.html"
    needs_multipart_form = False  # the form carries a token, never the file
    clear_checkbox_label = _("Clear")
    initial_text = _("Currently")
    parallel = 4  # parts in flight at once

    class Media:
        js = ("django_minio_backend/direct-upload.js",)
        css = {"all": ("django_minio_backend/direct-upload.css",)}

    def __init__(self, attrs: dict[str, Any] | None = None, *, parallel: int | None = None) -> None:
        super().__init__(attrs)
        if parallel is not None:
            self.parallel = parallel
        self.spec: Callable[[], FieldSpec] | None = None  # set by DirectUploadField

    @staticmethod
    def clear_checkbox_name(name: str) -> str:
        return name + "-clear"

    def format_value(self, value: Any) -> Any:
        return value if value else None

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        if self.spec is None:
            raise TypeError("DirectUploadWidget renders only for a DirectUploadField")
        context = super().get_context(name, value, attrs)
        spec = self.spec()
        token = value if isinstance(value, str) else ""
        widget = context["widget"]
        widget.update(
            {
                "spec": dump(spec),
                "urls": {url: reverse(f"django_minio_backend_direct:{url}") for url in URL_NAMES},
                "accept": spec.rules.accept,
                "max_size": spec.max_size,
                "min_size": spec.min_size,
                "parallel": self.parallel,
                "token": token,
                "staged_name": _staged_name(token),
                "is_initial": bool(value) and not isinstance(value, str) and hasattr(value, "url"),
                "initial_text": self.initial_text,
                "checkbox_name": self.clear_checkbox_name(name),
                "checkbox_id": self.clear_checkbox_name(name) + "_id",
                "clear_checkbox_label": self.clear_checkbox_label,
            }
        )
        return context

    def value_from_datadict(self, data: Mapping[str, Any], files: MultiValueDict[str, Any], name: str) -> Any:
        token = data.get(name) or None
        clear = forms.CheckboxInput().value_from_datadict(data, files, self.clear_checkbox_name(name))
        if not self.is_required and clear:
            return forms.widgets.FILE_INPUT_CONTRADICTION if token else False
        return token

    def value_omitted_from_data(self, data: Mapping[str, Any], files: MultiValueDict[str, Any], name: str) -> bool:
        return name not in data and self.clear_checkbox_name(name) not in data

    def use_required_attribute(self, initial: Any) -> bool:
        return False  # a hidden input; the server checks


def _staged_name(token: str) -> str:
    """The file name a re-rendered form shows for an upload already done (bad tokens show nothing)."""
    if not token:
        return ""
    try:
        return load(Staged, token).name
    except (TamperedToken, signing.BadSignature):  # only a label: the field reports the problem
        return ""
