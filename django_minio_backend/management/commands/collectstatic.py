"""Django's collectstatic, with parallel uploads when the static storage is one of ours.

Django loads the first app's command of a name, so this one replaces Django's when
`django_minio_backend` comes before `django.contrib.staticfiles` in INSTALLED_APPS. For our
storages it keeps one bucket listing for the whole run (so deciding what to upload costs one
request per 1,000 objects), uploads through the process-wide bounded pool, overwrites changed
files in place instead of deleting them first (a live site never sees them missing), and clears
with batched deletes. Other storages, `--link` and `--dry-run` get Django's behaviour.

While uploading it shows files done / total and MB/s (progress.py): one line redrawn on a terminal, a plain
line every few seconds in a log, nothing at verbosity 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.contrib.staticfiles.finders import get_finders
from django.contrib.staticfiles.management.commands import collectstatic
from django.core.files.storage import Storage
from django.core.management.base import CommandError

from ...batch import UploadBatch, UploadFailed
from ...progress import ProgressLine, Tally
from ...static import MinioBackendStatic


class Command(collectstatic.Command):
    help = collectstatic.Command.help + " Uploads to MinIO storages run in parallel."

    _uploads: UploadBatch | None = None
    _progress: ProgressLine | None = None
    progress_intervals = (0.1, 5.0)  # seconds between redraws on a terminal, between lines in a log

    def collect(self) -> dict[str, list[str]]:
        storage = self.storage
        if not isinstance(storage, MinioBackendStatic) or self.symlink:
            return super().collect()
        with storage.holding_listing():
            if self.dry_run:
                return super().collect()
            return self._collect_in_parallel(storage)

    def _collect_in_parallel(self, storage: MinioBackendStatic) -> dict[str, list[str]]:
        """Django's walk over the finders queues the uploads; post-processing starts once all have landed."""
        self._found: dict[str, tuple[Storage, str]] = {}
        self._inline_from = storage.settings.multipart_threshold
        self._uploads = UploadBatch(storage.settings.upload_workers)
        self._tally = Tally(self._count_files())
        on_terminal, in_log = self.progress_intervals
        self._progress = ProgressLine(self.stdout, self.verbosity, terminal_interval=on_terminal, log_interval=in_log)
        post_process, self.post_process = self.post_process, False
        try:
            collected = super().collect()
            self._uploads.wait()
        except UploadFailed as exc:
            raise CommandError(str(exc)) from exc.__cause__
        finally:
            self._uploads.stop()
            self._uploads = None
            self._progress.finish(self._tally.describe)
            self._progress = None
            self.post_process = post_process
        if post_process and hasattr(storage, "post_process"):
            try:
                self._post_process_found(storage)
            except UploadFailed as exc:
                raise CommandError(str(exc)) from exc.__cause__
        return collected

    def copy_file(self, path: str, prefixed_path: str, source_storage: Storage) -> None:
        uploads = self._uploads
        if uploads is None:
            return super().copy_file(path, prefixed_path, source_storage)
        self._found.setdefault(prefixed_path, (source_storage, path))
        if prefixed_path in self.copied_files:
            self._file_done()
            return self.log(f"Skipping '{path}' (already copied earlier)")
        if not self.delete_file(path, prefixed_path, source_storage):
            self._file_done()
            return None
        self.log(f"Copying '{source_storage.path(path)}'", level=2)
        job = _upload_job(self.storage, path, prefixed_path, source_storage)
        size = _size_or_none(source_storage, path)
        if size is None or size >= self._inline_from:  # its parts may use the pool: upload it from this thread
            try:
                job()
            except Exception as exc:
                raise CommandError(f"Could not upload '{prefixed_path}': {exc}") from exc
            self._file_done(size or 0)
        else:
            uploads.submit(prefixed_path, self._counted(job, size))
        self.copied_files.append(prefixed_path)
        return None

    def log(self, msg: str, level: int = 2) -> None:
        """Django's, clearing the progress line first while there is one."""
        progress = self._progress
        if progress is None:
            return super().log(msg, level)
        if self.verbosity >= level:
            progress.say(msg)
        return None

    def _file_done(self, size: int = 0) -> None:
        """One file is in the bucket (or needed no upload); called from the upload threads too."""
        self._tally.add(size)
        progress = self._progress
        if progress is not None:
            progress.update(self._tally.describe)

    def _counted(self, job: Callable[[], None], size: int) -> Callable[[], None]:
        def upload_and_count() -> None:
            job()
            self._file_done(size)

        return upload_and_count

    def _count_files(self) -> int:
        """The files Django's walk over the finders will hand to copy_file(): each destination path once."""
        paths: set[str] = set()
        for finder in get_finders():
            for path, source in finder.list(self.ignore_patterns):
                prefix = getattr(source, "prefix", None)
                paths.add(os.path.join(prefix, path) if prefix else path)
        return len(paths)

    def delete_file(self, path: str, prefixed_path: str, source_storage: Storage) -> bool:
        """Whether to upload. Our storages overwrite in place, so nothing is deleted beforehand."""
        if not isinstance(self.storage, MinioBackendStatic):
            return super().delete_file(path, prefixed_path, source_storage)
        if not self.storage.exists(prefixed_path):
            return True
        try:
            target_modified = self.storage.get_modified_time(prefixed_path)
            source_modified = source_storage.get_modified_time(path)
        except (OSError, NotImplementedError):
            return True
        if target_modified.replace(microsecond=0) < source_modified.replace(microsecond=0):
            return True  # the storage skips the upload when the bytes turn out identical
        if prefixed_path not in self.unmodified_files:
            self.unmodified_files.append(prefixed_path)
        self.log(f"Skipping '{path}' (not modified)")
        return False

    def clear_dir(self, path: str) -> None:
        """Delete everything under `path`, however deep, with one listing and batched deletes."""
        storage = self.storage
        if not isinstance(storage, MinioBackendStatic):
            return super().clear_dir(path)
        names = storage.names_under(path)
        for name in names:
            self.log(f"{'Pretending to delete' if self.dry_run else 'Deleting'} '{name}'", level=1)
        if names and not self.dry_run:
            try:
                storage.delete_many(names)
            except OSError as exc:
                raise CommandError(str(exc)) from exc
        return None

    def _post_process_found(self, storage: Any) -> None:
        """Report each post-processed file as Django's command does; the first failure stops the run."""
        for original, processed_name, processed in storage.post_process(self._found, dry_run=self.dry_run):
            if isinstance(processed, Exception):
                self.stderr.write(f"Post-processing '{original}' failed!")
                self.stderr.write("")
                raise processed
            if processed:
                self.log(f"Post-processed '{original}' as '{processed_name}'", level=2)
                self.post_processed_files.append(original)
            else:
                self.log(f"Skipped post-processing '{original}'")


def _upload_job(storage: Storage, path: str, prefixed_path: str, source_storage: Storage) -> Callable[[], None]:
    def upload() -> None:
        with source_storage.open(path) as source:
            storage.save(prefixed_path, source)

    return upload


def _size_or_none(storage: Storage, path: str) -> int | None:
    try:
        return storage.size(path)
    except (OSError, NotImplementedError):
        return None
