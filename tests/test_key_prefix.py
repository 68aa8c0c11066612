"""MINIO_KEY_PREFIX against the real server: every object of an alias lives under its prefix, names never show it,
and media and static files share a bucket without static files turning into orphans or media becoming public."""

from __future__ import annotations

import copy
import json
import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.test import override_settings
from minio import Minio

from django_minio_backend import MinioBackend, MinioBackendStatic
from django_minio_backend.bucket_plan import BucketTarget, plan
from django_minio_backend.bucket_setup import initialize_buckets
from django_minio_backend.checks import check_minio_settings
from django_minio_backend.keys import ObjectKeys, outermost, overlap, prefix_problem
from django_minio_backend.orphans import bucket_groups
from django_minio_backend.policies import get_policy
from tests.collecting import collect_setup, requests_by_kind, write_css_files
from tests.counting import CountingPoolManager
from tests.helpers import (
    BASE,
    MEDIA,
    STATIC,
    cache_prefix,
    drop_bucket,
    empty_bucket,
    fetch,
    http_status,
    put_bytes,
    put_objects,
    stored_bytes,
    stored_names,
)
from tests.settings import ARCHIVE_BUCKET
from tests.testapp.models import Report

MANIFEST = "django_minio_backend.models.MinioManifestStaticStorage"


# -- the mapping ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["/media", "media//", "a//b", "./media", "media/..", "../media", "a\\b", "a b"])
def test_prefixes_with_traversal_or_bad_segments_are_refused(value: str) -> None:
    assert prefix_problem(value) is not None


@pytest.mark.parametrize("value", ["a*", "a?/", "${aws:username}/", "caf\u00e9/", "a\x00b"])
def test_prefixes_a_policy_would_read_as_a_pattern_are_refused(value: str) -> None:
    assert prefix_problem(value) is not None


def test_names_map_to_keys_under_the_prefix_and_back() -> None:
    keys = ObjectKeys("media/")
    assert keys.key("photos/a.jpg") == "media/photos/a.jpg"
    assert [keys.name(key) for key in ("media/photos/a.jpg", "static/a.css", "media/", "mediax/a")] == [
        "photos/a.jpg",
        None,
        None,
        None,
    ]
    assert ObjectKeys("").key("a") == "a" and ObjectKeys("").name("static/a.css") == "static/a.css"
    with pytest.raises(SuspiciousFileOperation, match="longer than 1024 bytes"):
        keys.key("x" * 1020)


def test_overlap_and_outermost_prefixes() -> None:
    assert overlap("", "media/") and overlap("static/", "static/v2/") and not overlap("static/", "media/")
    assert not overlap("media/", "media2/")
    assert outermost(["static/v2/", "media/", "static/", "ab/", "a/"]) == ["a/", "ab/", "media/", "static/"]
    assert outermost(["media/", ""]) == [""]


# -- the storage API --------------------------------------------------------------------------------------------
@pytest.fixture
def prefixed(live_settings: dict[str, Any], fresh_bucket: str, unique: str) -> MinioBackend:
    """A storage on a bucket of its own whose keys live under `<unique>/media/`."""
    return MinioBackend(bucket_name=fresh_bucket, storage_name="default", MINIO_KEY_PREFIX=f"{unique}/media")


def test_every_storage_call_works_under_the_prefix(
    prefixed: MinioBackend, fresh_bucket: str, admin_client: Minio, unique: str
) -> None:
    put_bytes(admin_client, "photos/a.jpg", b"outside the prefix", bucket=fresh_bucket)
    assert prefixed.save("photos/a.jpg", ContentFile(b"inside")) == "photos/a.jpg"
    key = f"{unique}/media/photos/a.jpg"
    assert stored_bytes(admin_client, key, bucket=fresh_bucket) == b"inside"
    with prefixed.open("photos/a.jpg") as file:
        assert file.read() == b"inside"
    assert prefixed.exists("photos/a.jpg") and prefixed.size("photos/a.jpg") == 6
    assert prefixed.get_modified_time("photos/a.jpg").tzinfo is not None
    assert not prefixed.exists("a.jpg")
    assert prefixed.listdir("") == (["photos"], [])
    assert prefixed.listdir("photos") == ([], ["a.jpg"])
    assert fetch(prefixed.url("photos/a.jpg")) == b"inside"  # public bucket: a plain URL of the key
    assert f"/{fresh_bucket}/{unique}/media/photos/a.jpg" in prefixed.url("photos/a.jpg")
    prefixed.delete("photos/a.jpg")
    assert stored_names(admin_client, fresh_bucket) == {"photos/a.jpg"}  # the object outside was never touched
    with pytest.raises(FileNotFoundError, match=re.escape(f"{fresh_bucket}/{key} does not exist")):
        prefixed.size("photos/a.jpg")


def test_presigned_urls_name_the_key(live_settings: dict[str, Any], admin_client: Minio, unique: str) -> None:
    storage = MinioBackend(storage_name="default", MINIO_KEY_PREFIX=f"{unique}/media")  # the private default bucket
    name = storage.save("r\u00e9sum\u00e9 1.txt", ContentFile(b"private"))
    url = storage.url(name)
    assert "X-Amz-Signature" in url and f"/{unique}/media/r%C3%A9sum%C3%A9%201.txt?" in url
    assert fetch(url) == b"private"


def test_alternative_names_and_max_length_apply_to_the_name_django_sees(prefixed: MinioBackend, unique: str) -> None:
    name = "n" * 20 + ".txt"  # 24 characters; its key is longer
    assert prefixed.save(name, ContentFile(b"1"), max_length=24) == name
    second = prefixed.save(name, ContentFile(b"2"), max_length=24)
    assert second != name and len(second) <= 24 and not second.startswith(unique)
    with prefixed.open(second) as file:
        assert file.read() == b"2"
    with prefixed.open(name) as file:
        assert file.read() == b"1"  # the first object is untouched


@pytest.mark.django_db
def test_a_field_stores_the_name_without_the_prefix(
    live_settings: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    storages_setting = copy.deepcopy(live_settings)
    storages_setting["archive"]["OPTIONS"]["MINIO_KEY_PREFIX"] = f"{unique}/media"
    if not admin_client.bucket_exists(bucket_name=ARCHIVE_BUCKET):
        admin_client.make_bucket(bucket_name=ARCHIVE_BUCKET)
    with override_settings(STORAGES=storages_setting):
        report = Report.objects.create(file=ContentFile(b"pdf", name="q1.pdf"))
    assert report.file.name == "reports/q1.pdf"
    assert stored_bytes(admin_client, f"{unique}/media/reports/q1.pdf", bucket=ARCHIVE_BUCKET) == b"pdf"


def test_url_cache_entries_of_two_prefixes_never_mix(live_settings: dict[str, Any], fresh_bucket: str) -> None:
    """Same bucket, same name, same cache: the cache keys hash the key, so each alias gets its own object's URL."""
    cache: dict[str, Any] = {
        "MINIO_URL_CACHING_ENABLED": True,
        "MINIO_URL_CACHE_BACKEND": "lru",
        "MINIO_URL_CACHE_PREFIX": cache_prefix(),
    }
    one, two = (
        MinioBackend(bucket_name=fresh_bucket, storage_name="default", MINIO_KEY_PREFIX=prefix, **cache)
        for prefix in ("one", "two")
    )
    assert not one.is_public  # the alias does not list the bucket as public: its URLs are presigned and cached
    one.save("a.txt", ContentFile(b"one"))
    two.save("a.txt", ContentFile(b"two"))
    assert (fetch(one.url("a.txt")), fetch(two.url("a.txt"))) == (b"one", b"two")
    assert (fetch(one.url_many(["a.txt"])["a.txt"]), fetch(two.url_many(["a.txt"])["a.txt"])) == (b"one", b"two")


# -- static files: the listing, collectstatic, the manifest --------------------------------------------------
def test_collectstatic_lists_only_the_prefix_and_clear_deletes_only_under_it(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    admin_client: Minio,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    media = {f"media/{index:04d}.jpg" for index in range(1001)}  # more than one listing page outside the prefix
    put_objects(admin_client, fresh_bucket, *media)
    names = write_css_files(tmp_path, 20)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, MINIO_KEY_PREFIX="static/"):
        call_command("collectstatic", interactive=False, verbosity=0)
        assert requests_by_kind(counting_pool) == {"PUT": 20, "LIST": 1}
    assert stored_names(admin_client, fresh_bucket) == media | {f"static/{name}" for name in names}
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, MINIO_KEY_PREFIX="static/"):
        call_command("collectstatic", interactive=False, verbosity=0)
        assert requests_by_kind(counting_pool) == {"LIST": 1}  # one page: the prefix only
        ((_, url),) = counting_pool.requests
        assert "prefix=static%2F" in url
        static = storages["staticfiles"]
        assert isinstance(static, MinioBackendStatic)
        assert static.exists(names[0]) and not static.exists("media/0000.jpg")
        call_command("collectstatic", interactive=False, verbosity=0, clear=True)
    assert stored_names(admin_client, fresh_bucket) == media | {f"static/{name}" for name in names}  # re-uploaded
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, MINIO_KEY_PREFIX="static/"):
        storages["staticfiles"].delete(names[0])
        assert isinstance(storages["staticfiles"], MinioBackendStatic)
        storages["staticfiles"].delete_many(names[1:])
    assert stored_names(admin_client, fresh_bucket) == media


def test_manifest_storage_keeps_hashed_copies_and_the_manifest_under_the_prefix(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    admin_client: Minio,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "site.css").write_text("body { margin: 0; }\n")
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, MANIFEST, MINIO_KEY_PREFIX="static"):
        call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads(stored_bytes(admin_client, "static/staticfiles.json", bucket=fresh_bucket))
    hashed = manifest["paths"]["css/site.css"]
    assert stored_names(admin_client, fresh_bucket) == {
        "static/staticfiles.json",
        "static/css/site.css",
        f"static/{hashed}",
    }
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, MANIFEST, MINIO_KEY_PREFIX="static"):
        url = storages["staticfiles"].url("css/site.css")
        assert requests_by_kind(counting_pool) == {"GET": 1}  # the manifest, read from its key
    endpoint = live_settings["staticfiles"]["OPTIONS"]["MINIO_ENDPOINT"]
    assert url == f"http://{endpoint}/{fresh_bucket}/static/{hashed}"
    assert fetch(url) == b"body { margin: 0; }\n"


# -- media and static files in one bucket ------------------------------------------------------------------------
def one_bucket(live: dict[str, Any], bucket: str, **media: Any) -> dict[str, Any]:
    """Media under media/ (private) and static files under static/ of one bucket."""
    storages_setting = copy.deepcopy({alias: live[alias] for alias in ("default", "staticfiles")})
    storages_setting["default"]["OPTIONS"].update(
        MINIO_DEFAULT_BUCKET=bucket,
        MINIO_PRIVATE_BUCKETS=[bucket],
        MINIO_PUBLIC_BUCKETS=[],
        MINIO_KEY_PREFIX="media/",
        **media,
    )
    storages_setting["staticfiles"]["OPTIONS"].update(MINIO_STATIC_FILES_BUCKET=bucket, MINIO_KEY_PREFIX="static/")
    return storages_setting


def test_one_bucket_static_files_are_public_and_media_stays_private(
    live_settings: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    bucket = f"{unique}-site"
    storages_setting = one_bucket(live_settings, bucket)
    try:
        with override_settings(STORAGES=storages_setting):
            assert check_minio_settings() == []  # no W002: the prefixes do not overlap
            (report,) = initialize_buckets(plan())
            assert (
                report.describe()
                == f"{bucket} [default, staticfiles]: created; public read policy set; lifecycle rule added "
                "(incomplete multipart uploads aborted after 1 day) (public: static/*)"
            )
            (again,) = initialize_buckets(plan())
            assert again.describe() == f"{bucket} [default, staticfiles]: up to date (public: static/*)"
            static_url = storages["staticfiles"].url(storages["staticfiles"].save("css/a.css", ContentFile(b"a{}")))
            media_storage = storages["default"]
            media_name = media_storage.save("photos/a.jpg", ContentFile(b"private"))
            media_url = media_storage.url(media_name)
        policy = get_policy(admin_client, bucket)
        assert policy is not None
        (statement,) = policy["Statement"]
        assert statement["Resource"] in ([f"arn:aws:s3:::{bucket}/static/*"], f"arn:aws:s3:::{bucket}/static/*")
        assert http_status(static_url) == 200 and fetch(static_url) == b"a{}"
        endpoint = live_settings["default"]["OPTIONS"]["MINIO_ENDPOINT"]
        assert http_status(f"http://{endpoint}/{bucket}/media/photos/a.jpg") == 403  # anonymous
        assert fetch(media_url) == b"private"  # presigned
    finally:
        drop_bucket(admin_client, bucket)


def test_listing_a_prefixed_public_bucket_is_limited_to_its_public_prefix(
    live_settings: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    bucket = f"{unique}-site"
    storages_setting = one_bucket(live_settings, bucket)
    storages_setting["staticfiles"]["OPTIONS"]["MINIO_BUCKET_LISTING"] = True
    endpoint = live_settings["default"]["OPTIONS"]["MINIO_ENDPOINT"]
    try:
        with override_settings(STORAGES=storages_setting):
            initialize_buckets(plan())
        assert http_status(f"http://{endpoint}/{bucket}?list-type=2&prefix=static/") == 200
        assert http_status(f"http://{endpoint}/{bucket}?list-type=2&prefix=media/") == 403
        assert http_status(f"http://{endpoint}/{bucket}?list-type=2") == 403
    finally:
        drop_bucket(admin_client, bucket)


def target(**aliases: tuple[bool, str]) -> BucketTarget:
    """A bucket managed by aliases voting (public, prefix)."""
    found = BucketTarget(bucket="site", settings=None)  # type: ignore[arg-type]  # not used by the planning rules
    for alias, (public, prefix) in aliases.items():
        found.public_votes[alias] = public
        found.prefixes[alias] = prefix
    return found


def test_a_public_prefix_overlapping_a_private_one_stays_private() -> None:
    apart = target(static=(True, "static/"), media=(False, "media/"))
    assert (apart.public_prefixes, apart.conflicts) == (["static/"], [])
    whole = target(static=(True, ""), media=(False, "media/"))  # public whole bucket would expose media/
    assert (whole.public_prefixes, whole.conflicts, whole.wanted_policy) == ([], [("static", "media")], None)
    inside = target(static=(True, "static/"), media=(False, ""))
    assert (inside.public_prefixes, inside.conflicts) == ([], [("static", "media")])
    mixed = target(a=(True, "a/"), b=(True, "b/"), c=(False, "b/private/"))
    assert (mixed.public_prefixes, mixed.conflicts) == (["a/"], [("b", "c")])
    assert target(a=(True, ""), b=(False, "")).conflicts == [("a", "b")]  # no prefixes: as before


def test_overlapping_prefixes_warn_w002_and_apart_ones_do_not() -> None:
    def ids(media_prefix: str, static_prefix: str) -> list[str]:
        options = {**BASE, "MINIO_DEFAULT_BUCKET": "site", "MINIO_PRIVATE_BUCKETS": ["site"]}
        storages_setting = {
            "default": {"BACKEND": MEDIA, "OPTIONS": {**options, "MINIO_KEY_PREFIX": media_prefix}},
            "staticfiles": {
                "BACKEND": STATIC,
                "OPTIONS": {**BASE, "MINIO_STATIC_FILES_BUCKET": "site", "MINIO_KEY_PREFIX": static_prefix},
            },
        }
        with override_settings(STORAGES=storages_setting):
            return [message.id or "" for message in check_minio_settings()]

    assert ids("media/", "static/") == []
    assert ids("", "static/") == ["django_minio_backend.W002"]
    assert ids("media/", "") == ["django_minio_backend.W002"]


def test_a_media_alias_whose_own_bucket_is_its_static_bucket_is_warned_w021() -> None:
    options = {**BASE, "MINIO_DEFAULT_BUCKET": "site", "MINIO_STATIC_FILES_BUCKET": "site", "MINIO_KEY_PREFIX": "m"}
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": options}}):
        assert [message.id for message in check_minio_settings()] == ["django_minio_backend.W006"]
    public = {**options, "MINIO_PUBLIC_BUCKETS": ["site"]}  # meant to be public: no warning
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": public}}):
        assert check_minio_settings() == []


@pytest.mark.parametrize("value", ["../media", "media//", "a*", ["media"]])
def test_a_bad_prefix_is_e020(value: object) -> None:
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, "MINIO_KEY_PREFIX": value}}}):
        (message,) = check_minio_settings()
    assert message.id == "django_minio_backend.E018"
    assert "MINIO_KEY_PREFIX" in message.msg


# -- the orphan cleaner ----------------------------------------------------------------------------------------
def clean(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(
        "clean_orphaned_minio_files", *args, "--older-than", "0", "--bucket", ARCHIVE_BUCKET, stdout=out, stderr=err
    )
    assert err.getvalue() == ""
    return out.getvalue()


@pytest.mark.django_db
def test_the_orphan_cleaner_never_lists_a_static_file_of_a_shared_bucket(
    live_settings: dict[str, Any], admin_client: Minio
) -> None:
    if not admin_client.bucket_exists(bucket_name=ARCHIVE_BUCKET):
        admin_client.make_bucket(bucket_name=ARCHIVE_BUCKET)
    empty_bucket(admin_client, ARCHIVE_BUCKET)
    storages_setting = copy.deepcopy(live_settings)
    for alias in ("archive", "default"):  # every field storing into the bucket keeps its media under media/
        storages_setting[alias]["OPTIONS"]["MINIO_KEY_PREFIX"] = "media/"
    storages_setting["staticfiles"]["OPTIONS"].update(
        MINIO_STATIC_FILES_BUCKET=ARCHIVE_BUCKET, MINIO_KEY_PREFIX="static/"
    )
    Report.objects.create(file="reports/current.pdf")
    static = {"static/css/site.css", "static/staticfiles.json", "static/reports/stale.pdf", "static/media/x.jpg"}
    outside = {"other-app/reports/stale.pdf", "media-old/reports/stale.pdf", "reports/stale.pdf"}
    put_objects(admin_client, ARCHIVE_BUCKET, "media/reports/current.pdf", "media/reports/stale.pdf", *static, *outside)

    with override_settings(STORAGES=storages_setting):
        dry = clean("--dry-run")
        found = re.findall(r"^Found orphaned file: (.*)$", dry, flags=re.MULTILINE)
        assert found == [f"{ARCHIVE_BUCKET}/media/reports/stale.pdf"]
        assert "static/" not in dry
        clean()
    assert stored_names(admin_client, ARCHIVE_BUCKET) == {"media/reports/current.pdf", *static, *outside}
    empty_bucket(admin_client, ARCHIVE_BUCKET)


@pytest.mark.django_db
def test_the_orphan_cleaner_skips_static_prefixes_inside_a_media_prefix(
    live_settings: dict[str, Any], admin_client: Minio
) -> None:
    storages_setting = copy.deepcopy(live_settings)
    storages_setting["staticfiles"]["OPTIONS"].update(
        MINIO_STATIC_FILES_BUCKET=ARCHIVE_BUCKET, MINIO_KEY_PREFIX="static/"
    )
    with override_settings(STORAGES=storages_setting):  # media without a prefix, static files under static/
        (group,) = [group for group in bucket_groups()[0] if group.bucket == ARCHIVE_BUCKET]
        assert (group.prefixes, group.static_prefixes) == ([""], ("static/",))
    if not admin_client.bucket_exists(bucket_name=ARCHIVE_BUCKET):
        admin_client.make_bucket(bucket_name=ARCHIVE_BUCKET)
    empty_bucket(admin_client, ARCHIVE_BUCKET)
    put_objects(admin_client, ARCHIVE_BUCKET, "static/css/site.css", "reports/stale.pdf")
    with override_settings(STORAGES=storages_setting):
        assert re.findall(r"^Found orphaned file: (.*)$", clean("--dry-run"), flags=re.MULTILINE) == [
            f"{ARCHIVE_BUCKET}/reports/stale.pdf"
        ]
    storages_setting["staticfiles"]["OPTIONS"]["MINIO_KEY_PREFIX"] = ""  # static files everywhere: nothing scanned
    storages_setting["archive"]["OPTIONS"]["MINIO_KEY_PREFIX"] = "media/"
    with override_settings(STORAGES=storages_setting):
        groups, skipped = bucket_groups()
    assert ARCHIVE_BUCKET not in {group.bucket for group in groups}
    assert f"{ARCHIVE_BUCKET}: static files bucket (field testapp.Report.file)" in skipped
    empty_bucket(admin_client, ARCHIVE_BUCKET)
