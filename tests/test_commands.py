"""The management commands end to end, against the live server and the test project's models."""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from minio import Minio

from django_minio_backend.management.commands import clean_orphaned_minio_files
from tests.counting import CountingPoolManager
from tests.helpers import PseudoTerminal, drop_bucket, empty_bucket, other_spelling, put_objects, stored_names
from tests.servers import free_ports
from tests.settings import ARCHIVE_BUCKET, BACKUP_BUCKET
from tests.testapp.models import Album, Attachment, Report, Scan

pytestmark = pytest.mark.django_db


def run(command: str, *args: str, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def run_failing(command: str, *args: str, **options: Any) -> tuple[str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(command, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue(), str(info.value)


def run_to_the_end(command: str, *args: str, **options: Any) -> tuple[str, str, str | None]:
    """(stdout, stderr, the CommandError's message or None): tests check the buckets before the outcome."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=err, **options)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), str(exc)
    return out.getvalue(), err.getvalue(), None


@pytest.fixture
def down(live_settings: dict[str, Any]) -> Iterator[str]:
    """The live STORAGES, except that the archive alias points at a closed port."""
    storages = copy.deepcopy(live_settings)
    (port,) = free_ports(1)
    storages["archive"]["OPTIONS"].update(MINIO_ENDPOINT=f"127.0.0.1:{port}", MINIO_HEALTH_CHECK_TIMEOUT=2.0)
    with override_settings(STORAGES=storages):
        yield f"127.0.0.1:{port}"


# -- initialize_buckets ---------------------------------------------------------------------------
def test_initialize_buckets_reports_each_bucket_and_is_idempotent(live_settings: dict[str, Any]) -> None:
    run("initialize_buckets")
    out, err = run("initialize_buckets")
    assert err == ""
    assert out.splitlines() == [
        "test-media-private [default]: up to date (private)",
        "test-media-public [default]: up to date (public)",
        "test-static [staticfiles]: up to date (public)",
        f"{ARCHIVE_BUCKET} [archive]: up to date (private)",
        f"{BACKUP_BUCKET} [archive]: up to date (private)",
    ]


def test_initialize_buckets_silenced_prints_nothing(live_settings: dict[str, Any]) -> None:
    assert run("initialize_buckets", "--silenced") == ("", "")


def test_initialize_buckets_fails_with_a_non_zero_exit(down: str) -> None:
    out, err, message = run_failing("initialize_buckets", "--silenced")
    assert out == ""
    assert f"{ARCHIVE_BUCKET} [archive]: FAILED:" in err and f"{BACKUP_BUCKET} [archive]: FAILED:" in err
    assert "test-media-private" not in err  # the reachable aliases were initialised
    assert message == f"initialize_buckets failed for 2 bucket(s): {ARCHIVE_BUCKET}, {BACKUP_BUCKET}"


def test_initialize_buckets_check_passes_when_every_bucket_is_as_configured(live_settings: dict[str, Any]) -> None:
    run("initialize_buckets")
    out, err = run("initialize_buckets", "--check")
    assert err == "" and out.splitlines()[0] == "test-media-private [default]: up to date (private)"
    assert all(line.endswith(")") and ": up to date (" in line for line in out.splitlines())


def test_initialize_buckets_check_fails_and_dry_run_does_not_when_a_bucket_would_change(
    live_settings: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    storages = copy.deepcopy(live_settings)
    storages["archive"]["OPTIONS"]["MINIO_PRIVATE_BUCKETS"].append(f"{unique}-new")
    with override_settings(STORAGES=storages):
        out, err = run("initialize_buckets", "--dry-run")
        assert f"{unique}-new [archive]: would create; would add lifecycle rule" in out and err == ""
        assert "test-media-private [default]: up to date (private)" in out
        printed, errors = io.StringIO(), io.StringIO()
        with pytest.raises(CommandError) as info:
            call_command("initialize_buckets", "--check", "--silenced", stdout=printed, stderr=errors)
    assert (printed.getvalue(), errors.getvalue()) == ("", "")
    assert str(info.value) == (
        f"1 bucket(s) differ from the settings: {unique}-new; run initialize_buckets to bring them in line."
    )
    assert info.value.returncode == 1  # what manage.py exits with
    assert not admin_client.bucket_exists(bucket_name=f"{unique}-new")


# -- is_minio_available ---------------------------------------------------------------------------
def test_is_minio_available_reports_every_alias(live_settings: dict[str, Any]) -> None:
    out, err = run("is_minio_available")
    assert err == ""
    assert [line.split(":")[0].split(" ")[0] for line in out.splitlines()] == [
        "[default]",
        "[staticfiles]",
        "[archive]",
    ]
    assert all(" available at " in line for line in out.splitlines())
    assert run("is_minio_available", "--silenced") == ("", "")


def test_is_minio_available_fails_when_one_alias_is_down(down: str) -> None:
    out, err, message = run_failing("is_minio_available")
    assert "[default] available" in out
    assert err.startswith(f"[archive] UNAVAILABLE at {down}: GET http://{down}/minio/health/live failed")
    assert message == "MinIO is not available for: archive"


def test_is_minio_available_reports_a_configuration_error(live_settings: dict[str, Any]) -> None:
    storages = copy.deepcopy(live_settings)
    storages["archive"]["OPTIONS"]["MINIO_URL_EXPIRY_HOURS"] = 3
    with override_settings(STORAGES=storages):
        out, err, message = run_failing("is_minio_available")
    assert "[default] available" in out
    assert err.startswith("[archive] UNAVAILABLE: configuration error: STORAGES['archive']['OPTIONS']")
    assert message == "MinIO is not available for: archive"


# -- clean_orphaned_minio_files ---------------------------------------------------------------------
@pytest.fixture
def orphan_buckets(live_settings: dict[str, Any], admin_client: Minio) -> Iterator[None]:
    """The two buckets only these tests use, empty at the start of each test."""
    for bucket in (ARCHIVE_BUCKET, BACKUP_BUCKET):
        if not admin_client.bucket_exists(bucket_name=bucket):
            admin_client.make_bucket(bucket_name=bucket)
        empty_bucket(admin_client, bucket)
    yield


@pytest.fixture
def project(orphan_buckets: None, admin_client: Minio) -> dict[str, set[str]]:
    """Rows of several models and objects in two buckets; returns what should survive and what is orphaned."""
    Report.objects.bulk_create(
        [Report(file="reports/current.pdf"), Report(file="reports/archived.pdf", archived=True)]
    )  # the second row is hidden by Report's default manager
    Album.objects.bulk_create(
        [
            Album(cover="covers/a.jpg", backup="backups/a.tar"),
            Album(cover="", backup=None),
            Album(cover="same/name.txt"),
        ]
    )
    Scan.objects.create(file="scans/s1.png")  # the archive bucket again, through the default alias
    kept_archive = {"reports/current.pdf", "reports/archived.pdf", "covers/a.jpg", "same/name.txt", "scans/s1.png"}
    orphans_archive = {"reports/stale.pdf", "backups/a.tar", "deep/er/path/x y.txt"}  # backups/a.tar belongs to B
    kept_backup = {"backups/a.tar"}
    orphans_backup = {"same/name.txt", "covers/a.jpg"}  # referenced in the archive bucket only
    put_objects(admin_client, ARCHIVE_BUCKET, *kept_archive, *orphans_archive)
    put_objects(admin_client, BACKUP_BUCKET, *kept_backup, *orphans_backup)
    return {
        "kept_archive": kept_archive,
        "orphans_archive": orphans_archive,
        "kept_backup": kept_backup,
        "orphans_backup": orphans_backup,
    }


OURS = ("--bucket", ARCHIVE_BUCKET, "--bucket", BACKUP_BUCKET)


def test_dry_run_lists_orphans_and_deletes_nothing(project: dict[str, set[str]], admin_client: Minio) -> None:
    out, err = run("clean_orphaned_minio_files", "--dry-run", "--older-than", "0", *OURS)
    assert err == ""
    found = {line.removeprefix("Found orphaned file: ") for line in out.splitlines() if line.startswith("Found")}
    expected = {f"{ARCHIVE_BUCKET}/{name}" for name in project["orphans_archive"]}
    expected |= {f"{BACKUP_BUCKET}/{name}" for name in project["orphans_backup"]}
    assert found == expected
    assert out.splitlines()[-1] == (
        "Summary: 2 bucket(s) scanned; 11 objects listed; 6 names referenced; "
        "5 orphans found, 5 would be deleted (dry run)"
    )
    assert stored_names(admin_client, ARCHIVE_BUCKET) == project["kept_archive"] | project["orphans_archive"]


def test_dry_run_at_verbosity_zero_prints_only_the_summary(project: dict[str, set[str]]) -> None:
    out, err = run("clean_orphaned_minio_files", "--dry-run", "--older-than", "0", *OURS, verbosity=0)
    assert err == ""
    assert len(out.splitlines()) == 1 and out.startswith("Summary: 2 bucket(s) scanned;")


def test_real_run_deletes_orphans_per_bucket_only(project: dict[str, set[str]], admin_client: Minio) -> None:
    out, err = run("clean_orphaned_minio_files", "--older-than", "0", "--noinput", *OURS)
    assert err == ""
    assert "5 orphans found, 5 deleted" in out
    assert stored_names(admin_client, ARCHIVE_BUCKET) == project["kept_archive"]
    assert stored_names(admin_client, BACKUP_BUCKET) == project["kept_backup"]
    again, _ = run("clean_orphaned_minio_files", "--older-than", "0", *OURS)
    assert "0 orphans found, 0 deleted" in again


def test_bucket_option_limits_the_scan(project: dict[str, set[str]], admin_client: Minio) -> None:
    out, _ = run("clean_orphaned_minio_files", "--older-than", "0", "--bucket", BACKUP_BUCKET)
    assert "Summary: 1 bucket(s) scanned; 3 objects listed" in out
    assert stored_names(admin_client, BACKUP_BUCKET) == project["kept_backup"]
    assert stored_names(admin_client, ARCHIVE_BUCKET) == project["kept_archive"] | project["orphans_archive"]


def test_unknown_bucket_is_an_error(live_settings: dict[str, Any]) -> None:
    _, _, message = run_failing("clean_orphaned_minio_files", "--bucket", "no-such-bucket")
    assert message.startswith("No MinIO FileField stores into bucket(s) no-such-bucket (known: ")


def test_check_missing_reports_rows_whose_object_is_gone(project: dict[str, set[str]], admin_client: Minio) -> None:
    admin_client.remove_object(bucket_name=ARCHIVE_BUCKET, object_name="reports/archived.pdf")
    Album.objects.create(backup="backups/never-uploaded.tar")
    archived = Report._base_manager.get(file="reports/archived.pdf")
    album = Album.objects.get(backup="backups/never-uploaded.tar")
    out, err = run("clean_orphaned_minio_files", "--dry-run", "--check-missing", "--older-than", "0", *OURS)
    assert err == ""
    missing = sorted(line for line in out.splitlines() if line.startswith("Missing file"))
    assert missing == [
        f"Missing file in MinIO: {ARCHIVE_BUCKET}/reports/archived.pdf referenced by testapp.Report "
        f"(id={archived.pk}, field=file)",
        f"Missing file in MinIO: {BACKUP_BUCKET}/backups/never-uploaded.tar referenced by testapp.Album "
        f"(id={album.pk}, field=backup)",
    ]
    assert out.splitlines()[-1].endswith("; 2 missing files referenced")


def test_default_age_keeps_fresh_uploads(project: dict[str, set[str]], admin_client: Minio) -> None:
    """An upload whose row is not committed yet looks orphaned; the default hour protects it."""
    out, err = run("clean_orphaned_minio_files", "--noinput", *OURS)  # the buckets this test filled, alone
    assert err == ""
    assert "; 0 orphans found, 0 deleted; 5 unreferenced but newer than 1h kept" in out
    assert stored_names(admin_client, ARCHIVE_BUCKET) == project["kept_archive"] | project["orphans_archive"]
    assert stored_names(admin_client, BACKUP_BUCKET) == project["kept_backup"] | project["orphans_backup"]


def test_older_than_deletes_only_orphans_older_than_the_age(orphan_buckets: None, admin_client: Minio) -> None:
    """LastModified has one-second resolution: two uploads over two seconds apart straddle the cut-off."""
    put_objects(admin_client, BACKUP_BUCKET, "old.txt")
    time.sleep(2.1)
    put_objects(admin_client, BACKUP_BUCKET, "new.txt")
    old = admin_client.stat_object(bucket_name=BACKUP_BUCKET, object_name="old.txt").last_modified
    assert old is not None
    age = int((datetime.now(tz=UTC) - old).total_seconds())  # cut-off lands in [old, old + 1s + a little)
    out, _ = run("clean_orphaned_minio_files", "--older-than", str(age), "--bucket", BACKUP_BUCKET)
    assert [line for line in out.splitlines() if line.startswith("Found")] == [
        f"Found orphaned file: {BACKUP_BUCKET}/old.txt"
    ]
    assert "; 1 orphans found, 1 deleted; 1 unreferenced but newer than " in out
    assert stored_names(admin_client, BACKUP_BUCKET) == {"new.txt"}


@pytest.mark.slow
def test_2500_orphans_are_listed_in_pages_and_deleted_in_batches_with_progress(
    orphan_buckets: None,
    live_settings: dict[str, Any],
    admin_client: Minio,
    monkeypatch: pytest.MonkeyPatch,
    counting_pool: CountingPoolManager,
) -> None:
    names = [f"bulk/{index:05d}.bin" for index in range(2500)]
    put_objects(admin_client, BACKUP_BUCKET, *names)
    Album.objects.bulk_create([Album(backup=name) for name in names[::6]])  # 417 referenced
    storages = copy.deepcopy(live_settings)
    storages["archive"]["OPTIONS"]["MINIO_HTTP_CLIENT"] = counting_pool
    monkeypatch.setattr(clean_orphaned_minio_files.Command, "progress_every", 1000)
    with override_settings(STORAGES=storages):
        out, err = run("clean_orphaned_minio_files", "--older-than", "0", "--bucket", BACKUP_BUCKET)
    assert err == ""
    assert out.splitlines()[-1] == (
        "Summary: 1 bucket(s) scanned; 2500 objects listed; 417 names referenced; 2083 orphans found, 2083 deleted"
    )
    progress = [line for line in out.splitlines() if line.startswith("  ... ")]
    assert progress == [
        f"  ... {BACKUP_BUCKET}: 1000 objects listed, 833 orphans so far",
        f"  ... {BACKUP_BUCKET}: 2000 objects listed, 1666 orphans so far",
    ]
    deletes = [url for method, url in counting_pool.requests if method == "POST" and url.endswith("?delete=")]
    listings = [url for method, url in counting_pool.requests if method == "GET" and "list-type=2" in url]
    assert len(deletes) == 3  # 1000 + 1000 + 83
    assert len(listings) == 3  # 1000 keys a page
    assert stored_names(admin_client, BACKUP_BUCKET) == set(names[::6])


class Terminal(io.StringIO):
    """Standard input as a terminal would present it."""

    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_scan_shows_one_line_redrawn_in_place(
    orphan_buckets: None, admin_client: Minio, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"t/{index:02d}.bin" for index in range(30)]
    put_objects(admin_client, BACKUP_BUCKET, *names)
    Album.objects.bulk_create([Album(backup=name) for name in names[::6]])  # 5 referenced, 25 orphans
    monkeypatch.setattr(clean_orphaned_minio_files.Command, "progress_interval", 0.0)  # redraw on every object
    with PseudoTerminal() as terminal:
        call_command(
            "clean_orphaned_minio_files",
            "--dry-run",
            "--older-than",
            "0",
            "--bucket",
            BACKUP_BUCKET,
            stdout=terminal.stream,
            no_color=True,  # the summary's colour would depend on pytest's own stdout
        )
    lines = terminal.output.split("\n")
    assert not [line for line in lines if line.startswith("  ... ")]  # no log-style lines on a terminal
    found = [line.rpartition("\r\x1b[K")[2] for line in lines if "Found orphaned file: " in line]
    assert found == [f"Found orphaned file: {BACKUP_BUCKET}/{name}" for name in sorted(set(names) - set(names[::6]))]
    redrawn = [part for line in lines for part in line.split("\r\x1b[K")[1:] if "objects scanned" in part]
    assert len(redrawn) >= 29 and redrawn[-1] == f"{BACKUP_BUCKET}: 30 objects scanned, 25 orphans found"
    assert lines[-2].startswith("Summary: 1 bucket(s) scanned; 30 objects listed")
    with PseudoTerminal() as quiet:
        call_command(
            "clean_orphaned_minio_files",
            "--dry-run",
            "--bucket",
            BACKUP_BUCKET,
            verbosity=0,
            stdout=quiet.stream,
            no_color=True,
        )
    assert quiet.output.startswith("Summary: ") and quiet.output.count("\n") == 1


def test_asks_for_confirmation_only_on_a_terminal(
    project: dict[str, set[str]], admin_client: Minio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    _, _, message = run_failing("clean_orphaned_minio_files", "--older-than", "0", *OURS)
    assert message == "Cancelled; nothing was deleted."
    assert stored_names(admin_client, BACKUP_BUCKET) == project["kept_backup"] | project["orphans_backup"]

    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    run("clean_orphaned_minio_files", "--older-than", "0", "--bucket", BACKUP_BUCKET)
    assert stored_names(admin_client, BACKUP_BUCKET) == project["kept_backup"]

    monkeypatch.setattr("sys.stdin", Terminal(""))  # --noinput never reads
    run("clean_orphaned_minio_files", "--older-than", "0", "--noinput", "--bucket", ARCHIVE_BUCKET)
    assert stored_names(admin_client, ARCHIVE_BUCKET) == project["kept_archive"]


def test_without_a_terminal_it_runs_unattended(project: dict[str, set[str]], admin_client: Minio) -> None:
    """cron and scripts: stdin is not a terminal, so no question is asked (as in the previous release)."""
    run("clean_orphaned_minio_files", "--older-than", "0", "--bucket", BACKUP_BUCKET)
    assert stored_names(admin_client, BACKUP_BUCKET) == project["kept_backup"]


def test_a_failing_bucket_fails_the_command_after_the_others(project: dict[str, set[str]], admin_client: Minio) -> None:
    drop_bucket(admin_client, BACKUP_BUCKET)
    try:
        out, err, message = run_failing("clean_orphaned_minio_files", "--older-than", "0", *OURS)
    finally:
        admin_client.make_bucket(bucket_name=BACKUP_BUCKET)
    assert f"scanning {BACKUP_BUCKET} failed after 0 objects" in err and "NoSuchBucket" in err
    assert message == f"clean_orphaned_minio_files failed for: {BACKUP_BUCKET}"
    assert out.splitlines()[-1].endswith("; 1 bucket(s) failed")
    assert stored_names(admin_client, ARCHIVE_BUCKET) == project["kept_archive"]


# -- the cleaner never deletes a referenced file -----------------------------------------------------
def test_aliases_spelling_one_server_differently_clean_one_bucket_against_all_rows(
    project: dict[str, set[str]], live_settings: dict[str, Any], admin_client: Minio
) -> None:
    """Scan (alias default) and Report/Album (alias archive) store into one bucket of one server."""
    storages = copy.deepcopy(live_settings)
    default = storages["default"]["OPTIONS"]
    default["MINIO_ENDPOINT"] = other_spelling(default["MINIO_ENDPOINT"])
    with override_settings(STORAGES=storages):
        out, err = run("clean_orphaned_minio_files", "--older-than", "0", "--noinput", *OURS)
    assert stored_names(admin_client, ARCHIVE_BUCKET) == project["kept_archive"]
    assert stored_names(admin_client, BACKUP_BUCKET) == project["kept_backup"]
    assert err == ""
    assert f"Bucket {ARCHIVE_BUCKET} [archive, default]: 5 names referenced by " in out
    assert "5 orphans found, 5 deleted" in out


@pytest.mark.parametrize("change", ["another port", "another address", "https"])
def test_aliases_that_may_be_two_servers_refuse_their_bucket(
    project: dict[str, set[str]], live_settings: dict[str, Any], admin_client: Minio, change: str
) -> None:
    storages = copy.deepcopy(live_settings)
    default = storages["default"]["OPTIONS"]
    archive_endpoint = storages["archive"]["OPTIONS"]["MINIO_ENDPOINT"]
    host, port = archive_endpoint.rsplit(":", 1)
    if change == "another port":
        default["MINIO_ENDPOINT"] = f"{host}:{free_ports(1)[0]}"
    elif change == "another address":
        default["MINIO_ENDPOINT"] = f"127.0.0.2:{port}"
    else:
        default["MINIO_USE_HTTPS"] = True
    scheme = "https" if change == "https" else "http"
    with override_settings(STORAGES=storages):
        out, err, message = run_to_the_end("clean_orphaned_minio_files", "--older-than", "0", "--noinput", *OURS)
    assert stored_names(admin_client, ARCHIVE_BUCKET) == project["kept_archive"] | project["orphans_archive"]
    assert stored_names(admin_client, BACKUP_BUCKET) == project["kept_backup"]  # the other bucket is cleaned
    assert f"Refusing bucket {ARCHIVE_BUCKET}: nothing in it is deleted" in err
    assert f"archive (http://{archive_endpoint})" in err
    assert f"default ({scheme}://{default['MINIO_ENDPOINT']})" in err
    assert message == f"clean_orphaned_minio_files failed for: {ARCHIVE_BUCKET}"
    assert out.splitlines()[-1].endswith("; 1 bucket(s) failed")


def test_rows_hidden_by_a_filtering_base_manager_protect_their_files(orphan_buckets: None, admin_client: Minio) -> None:
    Attachment.objects.bulk_create(
        [Attachment(file="attachments/shown.txt"), Attachment(file="attachments/hidden.txt", hidden=True)]
    )
    assert list(Attachment._base_manager.values_list("file", flat=True)) == ["attachments/shown.txt"]
    put_objects(
        admin_client, BACKUP_BUCKET, "attachments/shown.txt", "attachments/hidden.txt", "attachments/orphan.txt"
    )
    out, err = run("clean_orphaned_minio_files", "--older-than", "0", "--bucket", BACKUP_BUCKET)
    assert stored_names(admin_client, BACKUP_BUCKET) == {"attachments/shown.txt", "attachments/hidden.txt"}
    assert err == ""
    assert "; 2 names referenced; 1 orphans found, 1 deleted" in out


def test_keys_xml_cannot_carry_are_deleted_one_by_one_and_the_batch_still_goes_through(
    orphan_buckets: None, admin_client: Minio
) -> None:
    """A DeleteObjects body with \\x01 is MalformedXML; one with \\r deletes the key with \\n instead."""
    kept = {"ctl/kept.txt", "ctl/line\nbreak.txt"}
    orphans = {"ctl/one.txt", "ctl/two.txt", "ctl/\x01bell.txt", "ctl/line\rbreak.txt", "ctl/tab\there.txt"}
    Album.objects.bulk_create([Album(backup=name) for name in kept])
    put_objects(admin_client, BACKUP_BUCKET, *kept, *orphans)
    out, err, message = run_to_the_end("clean_orphaned_minio_files", "--older-than", "0", "--bucket", BACKUP_BUCKET)
    assert stored_names(admin_client, BACKUP_BUCKET) == kept
    assert (err, message) == ("", None)
    assert "; 5 orphans found, 5 deleted" in out
    alone = sorted(line for line in out.splitlines() if line.startswith("Deleted "))
    assert alone == [
        f"Deleted {BACKUP_BUCKET}/'ctl/\\x01bell.txt' on its own: XML cannot carry its key in a batch",
        f"Deleted {BACKUP_BUCKET}/'ctl/line\\rbreak.txt' on its own: XML cannot carry its key in a batch",
    ]
    assert f"Found orphaned file: {BACKUP_BUCKET}/'ctl/\\x01bell.txt'" in out  # control characters shown escaped


def test_a_row_naming_a_key_with_a_backslash_protects_the_object_listed_with_a_slash(
    orphan_buckets: None, admin_client: Minio
) -> None:
    """SeaweedFS stores and lists `docs\\a.txt` as `docs/a.txt`; MinIO keeps the backslash. Either way it stays."""
    Album.objects.bulk_create([Album(backup="docs\\a.txt")])
    put_objects(admin_client, BACKUP_BUCKET, "docs\\a.txt", "docs/orphan.txt")
    before = stored_names(admin_client, BACKUP_BUCKET)
    out, err = run("clean_orphaned_minio_files", "--older-than", "0", "--check-missing", "--bucket", BACKUP_BUCKET)
    assert stored_names(admin_client, BACKUP_BUCKET) == before - {"docs/orphan.txt"}
    assert err == ""
    assert "; 1 orphans found, 1 deleted; 0 missing files referenced" in out
