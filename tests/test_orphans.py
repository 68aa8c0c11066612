"""Field discovery, bucket grouping and age parsing of the orphan cleaner (the command is in test_commands)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings

from django_minio_backend.orphans import bucket_groups, format_age, minio_file_fields, parse_age
from tests.settings import ARCHIVE_BUCKET, BACKUP_BUCKET, PRIVATE_BUCKET, PUBLIC_BUCKET
from tests.testapp.models import Album, Report

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("45s", 45), ("30m", 1800), ("1h", 3600), ("2d", 172800), (" 1H ", 3600), ("0", None), ("0h", None)],
)
def test_parse_age(text: str, seconds: int | None) -> None:
    expected = None if seconds is None else timedelta(seconds=seconds)
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "-5", "1.5h", "1w", "h", "1 h", "10mins"])
def test_parse_age_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="is not an age"):
        parse_age(text)


def test_format_age() -> None:
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
        "testapp.Album.backup",
        "testapp.Album.cover",
        "testapp.Document.file",
        "testapp.Picture.file",
        "testapp.Report.file",
        "testapp.Scan.file",
    ]


def test_fields_are_grouped_per_server_bucket_across_aliases(live_settings: dict[str, Any]) -> None:
    groups, skipped = bucket_groups()
    found = {group.bucket: (group.aliases, sorted(ref.label for ref in group.fields)) for group in groups}
    assert found == {
        PRIVATE_BUCKET: (["default"], ["testapp.Document.file"]),
        PUBLIC_BUCKET: (["default"], ["testapp.Picture.file"]),
        ARCHIVE_BUCKET: (["archive", "default"], ["testapp.Album.cover", "testapp.Report.file", "testapp.Scan.file"]),
        BACKUP_BUCKET: (["archive"], ["testapp.Album.backup"]),
    }
    assert skipped == []


def test_the_static_bucket_is_never_scanned(live_settings: dict[str, Any]) -> None:
    storages = copy.deepcopy(live_settings)
    storages["staticfiles"]["OPTIONS"]["MINIO_STATIC_FILES_BUCKET"] = PUBLIC_BUCKET
    with override_settings(STORAGES=storages):
        groups, skipped = bucket_groups()
    assert PUBLIC_BUCKET not in {group.bucket for group in groups}
    assert skipped == [f"{PUBLIC_BUCKET}: static files bucket (field testapp.Picture.file)"]


def test_names_come_from_every_row_despite_a_filtering_default_manager(live_settings: dict[str, Any]) -> None:
    Report.objects.bulk_create([Report(file="reports/live.txt"), Report(file="reports/old.txt", archived=True)])
    Album.objects.bulk_create([Album(cover="covers/c.jpg"), Album(cover="", backup=None)])
    assert list(Report.objects.values_list("file", flat=True)) == ["reports/live.txt"]
    (archive,) = [group for group in bucket_groups()[0] if group.bucket == ARCHIVE_BUCKET]
    assert archive.referenced_names() == {"reports/live.txt", "reports/old.txt", "covers/c.jpg"}


def test_rows_referencing_finds_pks_in_batches(live_settings: dict[str, Any]) -> None:
    Album.objects.bulk_create([Album(backup=f"b/{index}.bin") for index in range(1200)])
    (backup,) = [group for group in bucket_groups()[0] if group.bucket == BACKUP_BUCKET]
    (ref,) = backup.fields
    wanted = {f"b/{index}.bin" for index in range(0, 1200, 2)} | {"b/absent.bin"}
    rows = list(ref.rows_referencing(wanted))
    assert len(rows) == 600
    assert {name for _, name in rows} == wanted - {"b/absent.bin"}
    assert {pk for pk, _ in rows} <= set(Album.objects.values_list("pk", flat=True))
