"""What initialize_buckets and the orphan cleaner do for direct uploads: the lifecycle rule expiring staged
uploads, the bucket CORS rule, and abandoned staged uploads removed where the server has no lifecycle rules."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
import urllib3
from django.core.management import call_command
from django.test import override_settings
from minio import Minio
from minio.error import S3Error

from django_minio_backend.alias_settings import get_settings
from django_minio_backend.checks import check_minio_settings
from django_minio_backend.cors import CORS_RULE_ID
from django_minio_backend.direct.cleanup import clean_staged, staging_areas
from django_minio_backend.lifecycle import ABORT_RULE_ID, STAGING_RULE_ID
from django_minio_backend.signing import EMPTY_SHA256
from tests.counting import CountingPoolManager
from tests.faultproxy import Action, FaultProxy, Relay, RequestHead, s3_error
from tests.helpers import BASE, MEDIA, PART, open_uploads, put_bytes, stored_names
from tests.servers import S3Server
from tests.settings import ARCHIVE_BUCKET, PRIVATE_BUCKET
from tests.test_commands import orphan_buckets  # the buckets only the orphan-cleaner tests use, emptied
from tests.test_policies import (  # the live-server helpers of the initialize_buckets tests
    OUR_RULE,
    USER_RULES,
    buckets,
    changes,
    cleanup,
    connection,
    put_config,
    put_lifecycle,
    rules,
    run,
    storages_for,
)

__all__ = ["buckets", "cleanup", "orphan_buckets"]  # fixtures used by name

PREFIX = "direct-uploads/"
STAGED_RULE = (
    "<Rule><Expiration><Days>1</></><Filter><Prefix>direct-uploads/</></>"
    f"<ID>{STAGING_RULE_ID} direct-uploads/</><Status>Enabled</></>"
)
ORIGIN = "http://localhost:8000"
POOL = urllib3.PoolManager(retries=False)


def preflight(s3_server: S3Server, bucket: str, origin: str) -> tuple[int, str | None]:
    response = POOL.request(
        "OPTIONS",
        f"http://{s3_server.endpoint}/{bucket}/direct-uploads/x",
        headers={"Origin": origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x"},
    )
    return response.status, response.headers.get("Access-Control-Allow-Origin")


def cors_rules(s3_server: S3Server, bucket: str) -> list[ET.Element]:
    try:
        response = connection(s3_server).request("GET", bucket, query=[("cors", "")], payload_sha256=EMPTY_SHA256)
    except S3Error as error:
        assert error.code == "NoSuchCORSConfiguration"
        return []
    return ET.fromstring(response.data).findall("{*}CORSRule")


@pytest.mark.usefixtures("cleanup")
def test_staged_uploads_expire_by_a_rule_merged_with_the_users(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    admin_client.make_bucket(bucket_name=buckets["private"])
    put_lifecycle(s3_server, buckets["private"], USER_RULES)
    users = rules(s3_server, buckets["private"])
    storages = storages_for(live_settings, counting_pool, buckets, MINIO_DIRECT_UPLOAD_PREFIX=PREFIX)
    first = run(storages)[buckets["private"]]
    assert first.actions == [
        "lifecycle rule added (incomplete multipart uploads aborted after 1 day)",
        "lifecycle rule added (uploads staged under 'direct-uploads/' expire after 1 day)",
    ]
    expected = {**users, ABORT_RULE_ID: OUR_RULE, f"{STAGING_RULE_ID} {PREFIX}": STAGED_RULE}
    assert rules(s3_server, buckets["private"]) == expected
    assert f"{STAGING_RULE_ID} {PREFIX}" not in rules(s3_server, buckets["static"])  # the static alias stages nothing

    counting_pool.reset()
    assert [report.actions for report in run(storages).values()] == [[], [], []]
    assert changes(counting_pool) == []

    moved = storages_for(live_settings, counting_pool, buckets, MINIO_DIRECT_UPLOAD_PREFIX="staged/")
    assert run(moved)[buckets["private"]].actions == [
        "lifecycle rule removed (uploads staged under 'direct-uploads/')",
        "lifecycle rule added (uploads staged under 'staged/' expire after 1 day)",
    ]
    assert run(storages_for(live_settings, counting_pool, buckets))[buckets["private"]].actions == [
        "lifecycle rule removed (uploads staged under 'staged/')"
    ]
    assert rules(s3_server, buckets["private"]) == {**users, ABORT_RULE_ID: OUR_RULE}  # the user's rules, untouched


@pytest.mark.usefixtures("cleanup")
def test_the_cors_rule_lets_the_allowed_origin_upload(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    admin_client.make_bucket(bucket_name=buckets["private"])
    put_config(
        s3_server,
        buckets["private"],
        "cors",
        "<CORSConfiguration><CORSRule><ID>users-reads</ID><AllowedOrigin>https://reader.example</AllowedOrigin>"
        "<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
    )
    storages = storages_for(live_settings, counting_pool, buckets, MINIO_CORS_ALLOWED_ORIGINS=[ORIGIN])
    first = run(storages)
    assert f"CORS rule added (uploads from {ORIGIN})" in first[buckets["private"]].actions
    assert f"CORS rule added (uploads from {ORIGIN})" in first[buckets["public"]].actions
    assert not any("CORS" in action for action in first[buckets["static"]].actions)  # another alias
    ids = [rule.findtext("{*}ID") or "" for rule in cors_rules(s3_server, buckets["private"])]
    assert sorted(ids) == sorted(["users-reads", CORS_RULE_ID])  # the user's rule is kept
    assert preflight(s3_server, buckets["private"], ORIGIN) == (200, ORIGIN)
    assert preflight(s3_server, buckets["private"], "http://evil.example")[0] == 403

    counting_pool.reset()
    assert [report.actions for report in run(storages).values()] == [[], [], []]
    assert changes(counting_pool) == []
    other = storages_for(live_settings, counting_pool, buckets, MINIO_CORS_ALLOWED_ORIGINS=["https://app.example"])
    assert "CORS rule updated (uploads from https://app.example)" in run(other)[buckets["private"]].actions
    assert preflight(s3_server, buckets["private"], ORIGIN)[0] == 403


def cors_refused(head: RequestHead) -> Action:
    """A server without bucket CORS (MinIO's community edition): NotImplemented for ?cors."""
    return s3_error(501, "Not Implemented", "NotImplemented") if "cors" in head.target else Relay()


@pytest.mark.usefixtures("cleanup")
def test_a_server_without_bucket_cors_is_reported_not_failed(
    live_settings: dict[str, Any], counting_pool: CountingPoolManager, buckets: dict[str, str], s3_server: S3Server
) -> None:
    with FaultProxy(s3_server.endpoint, cors_refused) as proxy:
        storages = storages_for(live_settings, counting_pool, buckets, MINIO_CORS_ALLOWED_ORIGINS=[ORIGIN])
        storages["default"]["OPTIONS"]["MINIO_ENDPOINT"] = proxy.endpoint
        report = run(storages)[buckets["private"]]
    assert report.error is None
    assert report.notes == ["CORS rule not set, the server refuses it (NotImplemented); see the README on CORS"]


def test_no_cors_request_without_origins(
    live_settings: dict[str, Any], counting_pool: CountingPoolManager, buckets: dict[str, str], admin_client: Minio
) -> None:
    try:
        run(storages_for(live_settings, counting_pool, buckets))
        assert not [url for _, url in counting_pool.requests if "cors" in url]
    finally:
        for bucket in buckets.values():
            if admin_client.bucket_exists(bucket_name=bucket):
                admin_client.remove_bucket(bucket_name=bucket)


# -- the orphan cleaner ------------------------------------------------------------------------------------------------
@pytest.fixture
def staging(live_settings: dict[str, Any], unique: str) -> Any:
    storages = copy.deepcopy(live_settings)
    prefix = f"{unique}-staged/"
    storages["default"]["OPTIONS"].update(MINIO_DIRECT_UPLOAD_PREFIX=prefix, MINIO_MULTIPART_PART_SIZE=PART)
    with override_settings(STORAGES=storages):
        yield prefix


@pytest.mark.django_db
@pytest.mark.usefixtures("orphan_buckets")
def test_staged_uploads_are_not_orphans_until_a_day_old(
    live_settings: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    staged = f"{unique}-staged/abc"
    put_bytes(admin_client, staged, b"in flight", bucket=ARCHIVE_BUCKET)
    storages = copy.deepcopy(live_settings)
    storages["archive"]["OPTIONS"]["MINIO_DIRECT_UPLOAD_PREFIX"] = f"{unique}-staged/"
    clean = ["clean_orphaned_minio_files", "--older-than", "0", "--noinput", "--bucket", ARCHIVE_BUCKET]
    with override_settings(STORAGES=storages):
        call_command(*clean, verbosity=0)
    assert staged in stored_names(admin_client, ARCHIVE_BUCKET)  # younger than a day: kept
    call_command(*clean, verbosity=0)  # without the staging prefix it is an ordinary orphan
    assert staged not in stored_names(admin_client, ARCHIVE_BUCKET)


def test_abandoned_staged_uploads_are_removed(staging: str, admin_client: Minio) -> None:
    put_bytes(admin_client, f"{staging}old", b"abandoned")
    admin_client._create_multipart_upload(PRIVATE_BUCKET, f"{staging}parts", {})
    settings = get_settings("default")
    assert (PRIVATE_BUCKET, staging, settings) in staging_areas()
    kept = clean_staged(PRIVATE_BUCKET, staging, settings)  # the default age: a day
    assert (kept.stale, kept.aborted) == ([], 0)
    dry = clean_staged(PRIVATE_BUCKET, staging, settings, older_than=timedelta(0), dry_run=True)
    assert (dry.stale, dry.deleted, dry.aborted) == ([f"{staging}old"], 0, 1)
    assert stored_names(admin_client, PRIVATE_BUCKET, staging) == {f"{staging}old"}
    done = clean_staged(PRIVATE_BUCKET, staging, settings, older_than=timedelta(0))
    assert (done.deleted, done.aborted, done.errors) == (1, 1, [])
    assert stored_names(admin_client, PRIVATE_BUCKET, staging) == set()
    assert open_uploads(admin_client, staging) == []


# -- system checks -------------------------------------------------------------------------------------------------
def may_upload(request: object) -> bool:
    return True


NOT_A_FUNCTION = "a string"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"MINIO_CORS_ALLOWED_ORIGINS": ["www.example.com"]}, "E021"),
        ({"MINIO_DIRECT_UPLOAD_PREFIX": "../up/"}, "E022"),
        ({"MINIO_DIRECT_UPLOAD_EXPIRY": timedelta(seconds=30)}, "E023"),
        ({"MINIO_DIRECT_UPLOAD_PERMISSION": "nodots"}, "E024"),
        ({"MINIO_DIRECT_UPLOAD_PERMISSION": "no.such.module.may_upload"}, "E024"),
        ({"MINIO_DIRECT_UPLOAD_PERMISSION": f"{__name__}.NOT_A_FUNCTION"}, "E024"),
        ({"MINIO_DIRECT_UPLOAD_PERMISSION": f"{__name__}.may_upload"}, ""),
        ({"MINIO_CORS_ALLOWED_ORIGINS": ["*", "https://a.example:8443"], "MINIO_DIRECT_UPLOAD_PREFIX": "up/"}, ""),
    ],
)
def test_direct_upload_settings_have_check_ids(options: dict[str, Any], expected: str) -> None:
    storages = {"default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, **options}}}
    with override_settings(STORAGES=storages):
        found = [message.id for message in check_minio_settings()]
    assert found == ([f"django_minio_backend.{expected}"] if expected else [])
