"""MinioManifestStaticStorage against the real server: collectstatic round trip, {% static %}, re-runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.template import Context, Template
from minio import Minio
from minio.error import S3Error

from django_minio_backend import MinioBackendStatic, MinioManifestStaticStorage
from tests.collecting import collect_setup, requests_by_kind, touch
from tests.counting import CountingPoolManager
from tests.helpers import fetch, http_status, stored_bytes, stored_names

MANIFEST = "django_minio_backend.models.MinioManifestStaticStorage"


def write_site(root: Path) -> None:
    (root / "img").mkdir(parents=True)
    (root / "css").mkdir(parents=True)
    (root / "img" / "logo.png").write_bytes(b"\x89PNG logo")
    (root / "css" / "site.css").write_text('body { background: url("../img/logo.png"); }\n')
    (root / "css" / "plain.css").write_text("p { margin: 0; }\n")


def render_static(name: str) -> str:
    return Template("{% load static %}{% static name %}").render(Context({"name": name}))


def test_manifest_collectstatic_stores_hashed_copies_and_the_static_tag_links_to_them(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    admin_client: Minio,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    write_site(tmp_path)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, backend=MANIFEST):
        call_command("collectstatic", interactive=False, verbosity=0)
        first = requests_by_kind(counting_pool)
    names = stored_names(admin_client, fresh_bucket)
    manifest = json.loads(stored_bytes(admin_client, "staticfiles.json", bucket=fresh_bucket))
    hashed = manifest["paths"]
    assert set(hashed) == {"img/logo.png", "css/site.css", "css/plain.css"}
    assert names == {*hashed, *hashed.values(), "staticfiles.json"}
    assert first == {"LIST": 1, "PUT": 7}  # 3 originals, 3 hashed copies, the manifest

    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, backend=MANIFEST):  # a new web process
        site_url = render_static("css/site.css")
        assert render_static("img/logo.png").endswith("/" + hashed["img/logo.png"])
        assert requests_by_kind(counting_pool) == {"GET": 1}  # the manifest, read once
        assert "X-Amz" not in site_url
        endpoint = live_settings["staticfiles"]["OPTIONS"]["MINIO_ENDPOINT"]
        assert site_url == f"http://{endpoint}/{fresh_bucket}/{hashed['css/site.css']}"
        body = fetch(site_url).decode()
        assert hashed["img/logo.png"].split("/")[-1] in body

    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, backend=MANIFEST):  # unchanged re-run
        call_command("collectstatic", interactive=False, verbosity=0)
        assert requests_by_kind(counting_pool) == {"LIST": 1}


def test_manifest_changed_file_gets_a_new_name(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    admin_client: Minio,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    write_site(tmp_path)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, backend=MANIFEST):
        call_command("collectstatic", interactive=False, verbosity=0)
        storage = storages["staticfiles"]
        assert isinstance(storage, MinioManifestStaticStorage)
        old = storage.hashed_files["css/plain.css"]
    (tmp_path / "css" / "plain.css").write_text("p { margin: 1px; }\n")
    touch(tmp_path / "css" / "plain.css")
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, backend=MANIFEST):
        call_command("collectstatic", interactive=False, verbosity=0)
        kinds = requests_by_kind(counting_pool)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, backend=MANIFEST):
        new_url = render_static("css/plain.css")
    new = new_url.split(f"/{fresh_bucket}/")[1]
    assert new != old and new.startswith("css/plain.") and new in stored_names(admin_client, fresh_bucket)
    assert kinds == {"LIST": 1, "PUT": 3}  # the original, its new hashed copy, the manifest
    assert http_status(new_url) == 200


def test_manifest_storage_builds_without_network(
    live_settings: dict[str, Any], counting_pool: CountingPoolManager
) -> None:
    storage = MinioManifestStaticStorage(bucket_name="no-such-bucket-for-manifest", MINIO_HTTP_CLIENT=counting_pool)
    assert counting_pool.count() == 0
    with pytest.raises(S3Error):  # a missing bucket is an error, not "no manifest"
        _ = storage.hashed_files
    assert isinstance(storages["staticfiles"], MinioBackendStatic)
