"""Our collectstatic against the real server: requests per run, re-uploads, clearing and failures."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.finders import FileSystemFinder
from django.contrib.staticfiles.management.commands.collectstatic import Command as DjangoCollectstatic
from django.core.files.storage import FileSystemStorage, storages
from django.core.management import call_command
from django.core.management.base import CommandError
from minio import Minio

from django_minio_backend import MinioBackendStatic
from django_minio_backend.management.commands import collectstatic as our_collectstatic
from tests.collecting import collect_setup, css_name, requests_by_kind, touch, write_css_files
from tests.counting import CountingPoolManager
from tests.helpers import PseudoTerminal, stored_bytes, stored_names


def collectstatic(*args: str, **options: Any) -> str:
    out = StringIO()
    call_command("collectstatic", *args, interactive=False, verbosity=1, stdout=out, **options)
    return out.getvalue()


def test_our_command_is_the_one_django_runs() -> None:
    from django.core.management import get_commands

    assert get_commands()["collectstatic"] == "django_minio_backend"


def test_first_run_uploads_each_file_and_an_unchanged_rerun_only_lists(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    admin_client: Minio,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    names = write_css_files(tmp_path, 200)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        output = collectstatic()
        assert requests_by_kind(counting_pool) == {"PUT": 200, "LIST": 1}
        assert "200 static files copied" in output
    assert stored_names(admin_client, fresh_bucket) == set(names)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        output = collectstatic()
        assert requests_by_kind(counting_pool) == {"LIST": 1}
        assert "0 static files copied, 200 unmodified" in output


@pytest.mark.slow
def test_2500_files_use_a_paginated_listing(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    admin_client: Minio,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    count = 2500
    pages = math.ceil(count / 1000)
    names = write_css_files(tmp_path, count)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        collectstatic()
        assert requests_by_kind(counting_pool) == {"PUT": count, "LIST": 1}  # the bucket was empty: one page
    assert stored_names(admin_client, fresh_bucket) == set(names)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        assert "2500 unmodified" in collectstatic()
        assert requests_by_kind(counting_pool) == {"LIST": pages}
    # Django's own command on our storage: two HEADs, then the listing answers the rest.
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        call_command(DjangoCollectstatic(), interactive=False, verbosity=0)
        assert requests_by_kind(counting_pool) == {"HEAD": 2, "LIST": pages}


def test_djangos_command_first_run_stays_within_the_bound(
    live_settings: dict[str, Any], fresh_bucket: str, tmp_path: Path, counting_pool: CountingPoolManager
) -> None:
    write_css_files(tmp_path, 200)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        call_command(DjangoCollectstatic(), interactive=False, verbosity=0)
        kinds = requests_by_kind(counting_pool)
    assert kinds["PUT"] == 200
    assert kinds == {"PUT": 200, "HEAD": 2, "LIST": 1}  # <= ceil(200/1000) + 2 requests besides the PUTs


def test_changed_file_is_uploaded_deleted_and_touched_ones_are_not(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    admin_client: Minio,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    names = write_css_files(tmp_path, 20)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        collectstatic()
    changed, removed, touched = (tmp_path / names[3]), (tmp_path / names[4]), (tmp_path / names[5])
    changed.write_text(".changed { color: blue; }\n")
    touch(changed)
    removed.unlink()
    touch(touched)  # newer date, same bytes
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        collectstatic()
        assert requests_by_kind(counting_pool) == {"LIST": 1, "PUT": 1}
        assert next(url for method, url in counting_pool.requests if method == "PUT").endswith(names[3])
    assert stored_bytes(admin_client, names[3], bucket=fresh_bucket) == b".changed { color: blue; }\n"
    assert names[4] in stored_names(admin_client, fresh_bucket)  # collectstatic never deletes what it did not copy


def test_dry_run_writes_nothing(
    live_settings: dict[str, Any], fresh_bucket: str, tmp_path: Path, counting_pool: CountingPoolManager
) -> None:
    write_css_files(tmp_path, 5)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        output = collectstatic(dry_run=True)
        assert requests_by_kind(counting_pool) == {"LIST": 1}
    assert "Pretending to copy" in output


def test_clear_deletes_nested_objects_in_batches(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    admin_client: Minio,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    names = write_css_files(tmp_path, 150)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        collectstatic()
    for name in names[100:]:
        (tmp_path / name).unlink()
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        collectstatic(clear=True)
        kinds = requests_by_kind(counting_pool)
    assert kinds == {"LIST": 2, "POST": 1, "PUT": 100}  # listing for the run, listing to clear, one DeleteObjects
    assert stored_names(admin_client, fresh_bucket) == set(names[:100])


class OneUnreadableFileFinder(FileSystemFinder):
    """Serves STATICFILES_DIRS, but reading one file fails (an unreadable source file)."""

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, Any]]:
        for path, storage in super().list(ignore_patterns):
            if path == css_name(7) and isinstance(storage, FileSystemStorage):
                yield path, UnreadableStorage(location=storage.location)
            else:
                yield path, storage


class UnreadableStorage(FileSystemStorage):
    def _open(self, name: str, mode: str = "rb") -> Any:
        raise PermissionError(f"Permission denied: {name}")


def test_a_failed_upload_fails_the_command_naming_the_file(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    admin_client: Minio,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    write_css_files(tmp_path, 30)
    finder = f"{__name__}.OneUnreadableFileFinder"
    expected = rf"Could not upload '{css_name(7)}': Permission denied"
    with (
        collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, finders=[finder]),
        pytest.raises(CommandError, match=expected),
    ):
        collectstatic()
    assert css_name(7) not in stored_names(admin_client, fresh_bucket)


def test_files_above_the_multipart_threshold_are_uploaded(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    admin_client: Minio,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
) -> None:
    """They upload on the command's thread (their parts may use the pool), the rest through the pool."""
    (tmp_path / "big.bin").write_bytes(b"\x00" * 2048)
    (tmp_path / "small.txt").write_bytes(b"small")
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool, MINIO_MULTIPART_THRESHOLD=1024):
        collectstatic()
        storage = storages["staticfiles"]
        assert isinstance(storage, MinioBackendStatic)
        assert storage.size("big.bin") == 2048
    assert stored_names(admin_client, fresh_bucket) == {"big.bin", "small.txt"}


# -- progress ------------------------------------------------------------------------------------------------------
PROGRESS = re.compile(r"(\d+)/(\d+) files, \d+\.\d MB, \d+\.\d MB/s")


def test_on_a_terminal_progress_is_one_line_redrawn_in_place(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_css_files(tmp_path, 30)
    monkeypatch.setattr(our_collectstatic.Command, "progress_intervals", (0.0, 0.0))  # redraw on every file
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool), PseudoTerminal() as terminal:
        call_command("collectstatic", interactive=False, verbosity=1, stdout=terminal.stream)
    redraws = terminal.output.split("\r\x1b[K")[1:]
    assert len(redraws) == 31  # one per file, and the final state
    counts = [int(match.group(1)) for match in map(PROGRESS.match, redraws) if match]
    assert len(counts) == 31 and counts == sorted(counts) and counts[-1] == 30
    last, _, summary = redraws[-1].partition("\n")
    assert PROGRESS.fullmatch(last) and all("\n" not in redraw for redraw in redraws[:-1])  # one line throughout
    assert summary.strip() == "30 static files copied."


def test_in_a_log_progress_is_plain_periodic_lines(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_css_files(tmp_path, 30)
    monkeypatch.setattr(our_collectstatic.Command, "progress_intervals", (0.0, 0.0))  # a line on every file
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        output = collectstatic()
    assert "\r" not in output and "\x1b" not in output
    lines = [line for line in output.splitlines() if PROGRESS.fullmatch(line)]
    assert [line.split("/")[0] for line in lines] == [str(done) for done in range(1, 31)]
    assert output.splitlines()[-1] == "30 static files copied."


def test_default_intervals_keep_a_short_run_quiet_in_a_log_and_verbosity_0_quiet_everywhere(
    live_settings: dict[str, Any],
    fresh_bucket: str,
    tmp_path: Path,
    counting_pool: CountingPoolManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_css_files(tmp_path, 30)
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool):
        assert collectstatic().strip() == "30 static files copied."  # under 5 s: no periodic line yet
    monkeypatch.setattr(our_collectstatic.Command, "progress_intervals", (0.0, 0.0))
    touched = write_css_files(tmp_path, 30, age_seconds=-5.0)  # newer than what is stored: all sent again
    with collect_setup(live_settings, fresh_bucket, tmp_path, counting_pool), PseudoTerminal() as terminal:
        call_command("collectstatic", interactive=False, verbosity=0, stdout=terminal.stream)
    assert terminal.output == "" and len(touched) == 30
