"""Field discovery, bucket grouping and age parsing of the orphan cleaner (the command is in test_commands)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings

from django_minio_backend.orphans import (
    bucket_groups,
    doubt_about_one_server,
    format_age,
    minio_file_fields,
    parse_age,
    shown,
    xml_cannot_carry,
)
from tests.helpers import other_spelling
from tests.servers import free_ports
from tests.settings import ARCHIVE_BUCKET, BACKUP_BUCKET, PRIVATE_BUCKET, PUBLIC_BUCKET
from tests.testapp.models import Album, Attachment, Report, Scan

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("45s", 45), ("30m", 1800), ("1h", 3600), ("2d", 172800), (" 1H ", 3600), ("0", None), ("0h", None)],
)
def test_parse_age_reads_seconds_or_a_unit_and_zero_means_no_limit(text: str, seconds: int | None) -> None:
    expected = None if seconds is None else timedelta(seconds=seconds)
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "-5", "1.5h", "1w", "h", "1 h", "10mins"])
def test_parse_age_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="is not an age"):
        parse_age(text)


def test_format_age_uses_the_largest_unit_that_divides_the_age() -> None:
    assert [format_age(parse_age(text)) for text in ("90", "120", "1h", "2d", "0")] == [
        "90s",
        "2m",
        "1h",
        "2d",
        "no age limit",
    ]


def test_every_minio_file_field_is_found(live_settings: dict[str, Any]) -> None:
    labels = sorted(ref.label for ref, _ in minio_file_fields())
    assert labels == [
        "direct_upload.Upload.file",
        "testapp.Album.backup",
        "testapp.Album.cover",
        "testapp.Attachment.file",
        "testapp.Document.file",
        "testapp.Photo.image",
        "testapp.Picture.file",
        "testapp.Report.file",
        "testapp.Scan.file",
    ]


def test_fields_are_grouped_per_bucket_across_aliases(live_settings: dict[str, Any]) -> None:
    groups, skipped = bucket_groups()
    found = {group.bucket: (group.aliases, sorted(ref.label for ref in group.fields)) for group in groups}
    assert found == {
        PRIVATE_BUCKET: (["default"], ["direct_upload.Upload.file", "testapp.Document.file", "testapp.Photo.image"]),
        PUBLIC_BUCKET: (["default"], ["testapp.Picture.file"]),
        ARCHIVE_BUCKET: (["archive", "default"], ["testapp.Album.cover", "testapp.Report.file", "testapp.Scan.file"]),
        BACKUP_BUCKET: (["archive"], ["testapp.Album.backup", "testapp.Attachment.file"]),
    }
    assert skipped == []
    assert [group.refusal for group in groups] == [None] * 4


def test_one_bucket_through_two_spellings_of_one_server_is_one_group(live_settings: dict[str, Any]) -> None:
    storages = copy.deepcopy(live_settings)
    archive = storages["archive"]["OPTIONS"]["MINIO_ENDPOINT"]
    storages["default"]["OPTIONS"]["MINIO_ENDPOINT"] = other_spelling(archive)
    Report.objects.create(file="reports/r.txt")
    Scan.objects.create(file="scans/s.png")
    with override_settings(STORAGES=storages):
        (group,) = [group for group in bucket_groups()[0] if group.bucket == ARCHIVE_BUCKET]
    assert group.endpoints == {f"http://{archive}": ["archive"], f"http://{other_spelling(archive)}": ["default"]}
    assert group.refusal is None
    assert group.referenced_keys() == {"reports/r.txt", "scans/s.png"}


def test_one_bucket_on_what_may_be_two_servers_is_refused(live_settings: dict[str, Any]) -> None:
    storages = copy.deepcopy(live_settings)
    archive = storages["archive"]["OPTIONS"]["MINIO_ENDPOINT"]
    other = f"{archive.rsplit(':', 1)[0]}:{free_ports(1)[0]}"
    storages["default"]["OPTIONS"]["MINIO_ENDPOINT"] = other
    with override_settings(STORAGES=storages):
        refusals = {group.bucket: group.refusal for group in bucket_groups()[0]}
    assert refusals == {
        PRIVATE_BUCKET: None,
        PUBLIC_BUCKET: None,
        ARCHIVE_BUCKET: (
            f"Refusing bucket {ARCHIVE_BUCKET}: nothing in it is deleted: cannot tell whether archive "
            f"(http://{archive}) and default (http://{other}) are one server (different ports). Give these "
            "aliases one MINIO_ENDPOINT, or store into buckets of different names."
        ),
        BACKUP_BUCKET: None,
    }


@pytest.mark.parametrize(
    ("first", "second", "doubt"),
    [
        ("http://127.0.0.1:9000", "http://localhost:9000", None),
        ("http://localhost:9000", "http://LOCALHOST:9000", None),
        ("http://127.0.0.1", "http://127.0.0.1:80", None),
        ("https://127.0.0.1", "https://127.0.0.1:443", None),
        ("http://[::1]:9000", "http://[::1]:9000", None),
        ("http://127.0.0.1:9000", "https://127.0.0.1:9000", "http and https"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9001", "different ports"),
        ("http://127.0.0.1", "http://127.0.0.1:443", "different ports"),
        ("http://127.0.0.1:9000", "http://127.0.0.2:9000", "their host names resolve to different addresses"),
        ("http://127.0.0.1:9000", "http://no-such-host.invalid:9000", "a host name does not resolve"),
    ],
)
def test_doubt_about_one_server_is_none_for_one_server_and_says_why_otherwise(
    first: str, second: str, doubt: str | None
) -> None:
    found = doubt_about_one_server(first, second)
    if doubt is None:
        assert found is None
    else:
        assert found is not None and found.startswith(doubt), found
    assert (doubt_about_one_server(second, first) is None) == (doubt is None)


def test_the_static_bucket_is_never_scanned(live_settings: dict[str, Any]) -> None:
    storages = copy.deepcopy(live_settings)
    storages["staticfiles"]["OPTIONS"]["MINIO_STATIC_FILES_BUCKET"] = PUBLIC_BUCKET
    with override_settings(STORAGES=storages):
        groups, skipped = bucket_groups()
    assert PUBLIC_BUCKET not in {group.bucket for group in groups}
    assert skipped == [f"{PUBLIC_BUCKET}: static files bucket (field testapp.Picture.file)"]


def test_a_static_bucket_is_never_scanned_whatever_the_endpoint_string(live_settings: dict[str, Any]) -> None:
    storages = copy.deepcopy(live_settings)
    static = storages["staticfiles"]["OPTIONS"]
    static.update(MINIO_STATIC_FILES_BUCKET=PUBLIC_BUCKET, MINIO_ENDPOINT=other_spelling(static["MINIO_ENDPOINT"]))
    with override_settings(STORAGES=storages):
        groups, skipped = bucket_groups()
    assert PUBLIC_BUCKET not in {group.bucket for group in groups}
    assert skipped == [f"{PUBLIC_BUCKET}: static files bucket (field testapp.Picture.file)"]


def test_names_come_from_every_row_despite_a_filtering_default_manager(live_settings: dict[str, Any]) -> None:
    Report.objects.bulk_create([Report(file="reports/live.txt"), Report(file="reports/old.txt", archived=True)])
    Album.objects.bulk_create([Album(cover="covers/c.jpg"), Album(cover="", backup=None)])
    assert list(Report.objects.values_list("file", flat=True)) == ["reports/live.txt"]
    (archive,) = [group for group in bucket_groups()[0] if group.bucket == ARCHIVE_BUCKET]
    assert archive.referenced_keys() == {"reports/live.txt", "reports/old.txt", "covers/c.jpg"}


def test_names_come_from_every_row_despite_a_filtering_base_manager(live_settings: dict[str, Any]) -> None:
    Attachment.objects.bulk_create([Attachment(file="a/shown.txt"), Attachment(file="a/hidden.txt", hidden=True)])
    assert list(Attachment._base_manager.values_list("file", flat=True)) == ["a/shown.txt"]
    (backup,) = [group for group in bucket_groups()[0] if group.bucket == BACKUP_BUCKET]
    assert backup.referenced_keys() == {"a/shown.txt", "a/hidden.txt"}
    (ref,) = [ref for ref in backup.fields if ref.model is Attachment]
    assert {name for _, name in ref.rows_referencing({"a/hidden.txt"})} == {"a/hidden.txt"}


@pytest.mark.parametrize(
    ("key", "alone"),
    [
        ("plain/name.txt", False),
        ("tab\there, line\nbreak.txt", False),  # XML keeps \t and \n as they are
        ("c1/\x85\x7f.txt", False),
        ("émoji/😀.txt", False),
        ("bell/\x01.txt", True),
        ("carriage/a\rb.txt", True),  # read back as \n by the server's XML parser
        ("nonchar/\ufffe", True),
    ],
)
def test_xml_cannot_carry_keys_with_control_characters_carriage_returns_or_noncharacters(key: str, alone: bool) -> None:
    assert xml_cannot_carry(key) is alone


def test_names_with_control_characters_are_shown_escaped() -> None:
    assert shown("a b/é.txt") == "a b/é.txt"
    assert shown("a\x1b[31mred") == "'a\\x1b[31mred'"


def test_rows_referencing_finds_pks_in_batches(live_settings: dict[str, Any]) -> None:
    Album.objects.bulk_create([Album(backup=f"b/{index}.bin") for index in range(1200)])
    (backup,) = [group for group in bucket_groups()[0] if group.bucket == BACKUP_BUCKET]
    (ref,) = [ref for ref in backup.fields if ref.model is Album]
    wanted = {f"b/{index}.bin" for index in range(0, 1200, 2)} | {"b/absent.bin"}
    rows = list(ref.rows_referencing(wanted))
    assert len(rows) == 600
    assert {name for _, name in rows} == wanted - {"b/absent.bin"}
    assert {pk for pk, _ in rows} <= set(Album.objects.values_list("pk", flat=True))
