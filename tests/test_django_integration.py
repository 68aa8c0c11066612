"""The storage as Django projects use it: FileField, FileResponse, collectstatic and {% static %}."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import Client
from minio import Minio

from django_minio_backend import MinioBackendStatic
from tests.helpers import fetch, http_status, stored_names
from tests.settings import PUBLIC_BUCKET, STATIC_BUCKET
from tests.testapp.models import Document, Picture

pytestmark = pytest.mark.django_db


def test_a_filefield_saves_serves_its_url_downloads_and_deletes_its_object(live_settings: dict[str, Any]) -> None:
    document = Document.objects.create(file=ContentFile(b"%PDF-1.7 report", name="report.pdf"))
    name = document.file.name
    assert name is not None and name.endswith("/report.pdf")
    assert document.file.size == 15
    assert fetch(document.file.url) == b"%PDF-1.7 report"
    reloaded = Document.objects.get(pk=document.pk)
    with reloaded.file.open("rb") as handle:
        assert b"".join(handle.chunks(chunk_size=4)) == b"%PDF-1.7 report"
    response = Client().get(f"/download/{document.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.7 report"  # type: ignore[attr-defined]
    reloaded.file.delete(save=False)
    assert not reloaded.file.storage.exists(name)


def test_public_filefield_url_is_anonymous(live_settings: dict[str, Any]) -> None:
    picture = Picture.objects.create(file=ContentFile(b"\x89PNG", name="p i c.png"))
    url = picture.file.url
    assert url.split("?")[0] == url
    assert f"/{PUBLIC_BUCKET}/pictures/" in url
    assert http_status(url) == 200


def test_collectstatic_uploads_the_apps_files_and_the_static_tag_links_to_them(
    live_settings: dict[str, Any], admin_client: Minio
) -> None:
    call_command("collectstatic", interactive=False, verbosity=0)
    static = storages["staticfiles"]
    assert isinstance(static, MinioBackendStatic)
    assert static.bucket == STATIC_BUCKET
    names = stored_names(admin_client, STATIC_BUCKET)
    assert {"testapp/css/site.css", "testapp/app script.js"} <= names
    html = render_to_string("page.html")
    href = html.split('href="')[1].split('"')[0]
    assert href == f"http://{static.settings.external_endpoint}/{STATIC_BUCKET}/testapp/css/site.css"
    assert http_status(href) == 200
    assert http_status(static.url("testapp/app script.js")) == 200
    call_command("collectstatic", interactive=False, verbosity=0)  # an unchanged re-run succeeds too
