"""The example page (direct upload), the same form posted through Django, and the result page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from .forms import PlainUploadForm, UploadForm, UploadModelForm
from .models import Upload


def _form_page(request: HttpRequest, form_class: type[UploadModelForm], title: str) -> HttpResponse:
    if request.method == "POST":
        form = form_class(request.POST, request.FILES)
        if form.is_valid():
            upload = form.save()
            return redirect("direct_upload:done", pk=upload.pk)
    else:
        form = form_class()
    return render(request, "direct_upload/upload.html", {"form": form, "title": title})


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    return _form_page(request, UploadForm, "Direct upload to the bucket")


@login_required
def plain_upload(request: HttpRequest) -> HttpResponse:
    return _form_page(request, PlainUploadForm, "Upload through Django")


@login_required
def done(request: HttpRequest, pk: int) -> HttpResponse:
    upload = get_object_or_404(Upload, pk=pk)
    return render(request, "direct_upload/done.html", {"upload": upload})
