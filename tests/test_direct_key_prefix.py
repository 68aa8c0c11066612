"""Direct uploads and write URLs on an alias with MINIO_KEY_PREFIX, against the real server: staged objects live under
the key prefix + MINIO_DIRECT_UPLOAD_PREFIX, the moved file under the key prefix (its row holds the name without
it), the staging lifecycle rule and both cleaners work on the full key prefix, and write URLs sign the object key."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import urllib3
from django.core.management import call_command
from django.test import Client, override_settings
from minio import Minio

from django_minio_backend import MinioBackend
from django_minio_backend.alias_settings import get_settings
from django_minio_backend.direct.cleanup import clean_staged, staging_areas
from django_minio_backend.direct.tokens import Staged, load
from django_minio_backend.lifecycle import STAGING_RULE_ID
from examples.direct_upload.forms import UploadForm
from examples.direct_upload.models import Upload
from tests.counting import CountingPoolManager
from tests.helpers import PART, empty_bucket, open_uploads, post_form, private_storage, put_objects, stored_names
from tests.servers import S3Server
from tests.settings import ARCHIVE_BUCKET, PRIVATE_BUCKET
from tests.test_direct_uploads import browser, call, field_of, parts_upload, post_upload, save_form, user
from tests.test_policies import buckets, cleanup, rules, run, storages_for
from tests.testapp.models import Report

__all__ = ["browser", "buckets", "cleanup", "user"]  # fixtures used by name

pytestmark = pytest.mark.django_db
POOL = urllib3.PoolManager(retries=False)


@pytest.fixture
def key_prefix(live_settings: dict[str, Any], unique: str) -> Iterator[str]:
    """Direct uploads into the default alias, whose keys live under a key prefix of this test's own (yielded, with
    its "/"), staged under "staged/" below it; parts of 5 MiB."""
    storages = copy.deepcopy(live_settings)
    storages["default"]["OPTIONS"].update(
        MINIO_KEY_PREFIX=f"{unique}-app",  # normalised to end with "/"
        MINIO_DIRECT_UPLOAD_PREFIX="staged/",
        MINIO_MULTIPART_THRESHOLD=PART,
        MINIO_MULTIPART_PART_SIZE=PART,
    )
    with override_settings(STORAGES=storages):
        yield f"{unique}-app/"


def test_staged_and_moved_objects_live_under_the_key_prefix(
    key_prefix: str, browser: Client, admin_client: Minio
) -> None:
    staging = f"{key_prefix}staged/"
    assert get_settings("default").staging_key_prefix == staging
    token = post_upload(browser, b"under the prefix")
    staged = load(Staged, token)
    assert staged.key.startswith(staging)
    assert stored_names(admin_client, PRIVATE_BUCKET, key_prefix) == {staged.key}
    checked = field_of(UploadForm()).clean(token)
    assert checked.read() == b"under the prefix"  # validators read the staged object (its key is not a name)
    checked.close()

    name = save_form(token)
    assert name.startswith("uploads/hello") and not name.startswith(key_prefix)
    assert Upload.objects.get(file=name).file.read() == b"under the prefix"  # the row holds the bare name
    assert stored_names(admin_client, PRIVATE_BUCKET, key_prefix) == {key_prefix + name}  # moved, staged one gone


def test_a_multipart_direct_upload_stages_and_moves_under_the_key_prefix(
    key_prefix: str, browser: Client, admin_client: Minio
) -> None:
    data = b"p" * (PART + 7)
    ticket = parts_upload(browser, data)
    assert open_uploads(admin_client, key_prefix) != []  # the parts go to a key under the prefix
    status, answer = call(browser, "/uploads/complete/", {"ticket": ticket["ticket"]})
    assert status == 200, answer
    name = save_form(answer["token"])
    assert stored_names(admin_client, PRIVATE_BUCKET, key_prefix) == {key_prefix + name}
    with private_storage().open(name) as handle:
        assert handle.read() == data


@pytest.mark.usefixtures("cleanup")
def test_the_staging_lifecycle_rule_names_the_full_key_prefix(
    live_settings: dict[str, Any], s3_server: S3Server, counting_pool: CountingPoolManager, buckets: dict[str, str]
) -> None:
    storages = storages_for(
        live_settings, counting_pool, buckets, MINIO_KEY_PREFIX="app", MINIO_DIRECT_UPLOAD_PREFIX="staged/"
    )
    report = run(storages)[buckets["private"]]
    assert "lifecycle rule added (uploads staged under 'app/staged/' expire after 1 day)" in report.actions
    found = rules(s3_server, buckets["private"])
    assert f"{STAGING_RULE_ID} app/staged/" in found
    assert "<Prefix>app/staged/</>" in found[f"{STAGING_RULE_ID} app/staged/"]


def clean_archive() -> str:
    out, err = StringIO(), StringIO()
    arguments = ["--older-than", "0", "--noinput", "--bucket", ARCHIVE_BUCKET]
    call_command("clean_orphaned_minio_files", *arguments, stdout=out, stderr=err)
    assert err.getvalue() == ""
    return out.getvalue()


def test_the_orphan_cleaner_keeps_staged_uploads_under_the_key_prefix_and_the_sweep_removes_them(
    live_settings: dict[str, Any], admin_client: Minio
) -> None:
    if not admin_client.bucket_exists(bucket_name=ARCHIVE_BUCKET):
        admin_client.make_bucket(bucket_name=ARCHIVE_BUCKET)
    empty_bucket(admin_client, ARCHIVE_BUCKET)
    storages = copy.deepcopy(live_settings)
    for alias in ("archive", "default"):  # every field storing into the archive bucket keeps its media under media/
        storages[alias]["OPTIONS"]["MINIO_KEY_PREFIX"] = "media/"
    storages["archive"]["OPTIONS"]["MINIO_DIRECT_UPLOAD_PREFIX"] = "staged/"
    Report.objects.create(file="reports/current.pdf")
    staged, outside = "media/staged/0123456789abcdef0123456789abcdef", "staged/0123456789abcdef0123456789abcdef"
    put_objects(admin_client, ARCHIVE_BUCKET, "media/reports/current.pdf", "media/reports/stale.pdf", staged, outside)
    try:
        with override_settings(STORAGES=storages):
            output = clean_archive()
            assert re.findall(r"^Found orphaned file: (.*)$", output, flags=re.MULTILINE) == [
                f"{ARCHIVE_BUCKET}/media/reports/stale.pdf"
            ]
            assert f"Staged uploads in {ARCHIVE_BUCKET}/media/staged/: 0 older than 1d" in output
            assert stored_names(admin_client, ARCHIVE_BUCKET) == {"media/reports/current.pdf", staged, outside}
            areas = [(bucket, prefix) for bucket, prefix, _ in staging_areas() if bucket == ARCHIVE_BUCKET]
            assert areas == [(ARCHIVE_BUCKET, "media/staged/")]
            sweep = clean_staged(ARCHIVE_BUCKET, "media/staged/", get_settings("archive"), older_than=timedelta(0))
            assert (sweep.stale, sweep.deleted, sweep.errors) == ([staged], 1, [])
        assert stored_names(admin_client, ARCHIVE_BUCKET) == {"media/reports/current.pdf", outside}
    finally:
        empty_bucket(admin_client, ARCHIVE_BUCKET)


# -- write URLs --------------------------------------------------------------------------------------------------
def test_write_urls_sign_the_object_key(live_settings: dict[str, Any], admin_client: Minio, unique: str) -> None:
    storage = MinioBackend(bucket_name=PRIVATE_BUCKET, storage_name="default", MINIO_KEY_PREFIX=f"{unique}/media")
    put_url = storage.url("docs/put me.txt", http_method="PUT")
    assert f"/{PRIVATE_BUCKET}/{unique}/media/docs/put%20me.txt?" in put_url
    assert POOL.request("PUT", put_url, body=b"put through the URL").status == 200
    with storage.open("docs/put me.txt") as handle:
        assert handle.read() == b"put through the URL"
    assert POOL.request("HEAD", storage.url("docs/put me.txt", http_method="HEAD")).status == 200

    post = storage.presigned_post("docs/posted.txt", max_size=100, content_type="text/plain")
    assert post.fields["key"] == f"{unique}/media/docs/posted.txt"
    assert post_form(post.url, post.fields, b"posted through the form").status == 204
    with storage.open("docs/posted.txt") as handle:
        assert handle.read() == b"posted through the form"
    assert stored_names(admin_client, PRIVATE_BUCKET, unique) == {
        f"{unique}/media/docs/put me.txt",
        f"{unique}/media/docs/posted.txt",
    }
