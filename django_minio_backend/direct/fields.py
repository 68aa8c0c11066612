"""The form field of direct uploads, and the checked staged upload it hands to validators and to the model.

The browser uploads into the staging area and the form submits only a signed token (see widgets.py). On
validation, `DirectUploadField` asks the server what arrived: the object must exist, its size must be within the
field's limits, and its type (derived from the file's original name, and stored with the object) must be one the
field allows. An object failing these checks is deleted. Validators get a `StagedUpload`, a readable file.

Saving the model (a ModelForm, the admin) assigns the `StagedUpload` to a plain `models.FileField`; the model
field's `pre_save` then calls `StagedUpload.save()`, which moves the object to the field's `upload_to` name by a
copy inside the server (create-only, renamed when taken) and deletes the staged object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.conf import DEFAULT_STORAGE_ALIAS
from django.core import signing
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.base import File
from django.core.files.storage import DefaultStorage, Storage, storages
from django.db.models import Model
from django.db.models.fields.files import ImageFieldFile

from ..headers import content_type_for
from ..storage import MinioBackend
from .moving import move_staged
from .rules import UploadRules
from .staging import StagingArea
from .tokens import FieldSpec, Staged, load
from .widgets import DirectUploadWidget

__all__ = ["DEFAULT_MAX_SIZE", "DirectUploadField", "StagedUpload"]

DEFAULT_MAX_SIZE = 5 * 1024**3
StorageChoice = MinioBackend | Callable[[], MinioBackend] | None


class StagedUpload(ImageFieldFile):
    """A checked upload in the staging area, not yet at its final name.

    A file (`name` is the original file name, `size` what arrived, reading fetches ranges of the staged
    object) for validators; for the model, a field file that has no field yet: assigning it to a FileField
    gives it the field, and the model's save() calls `save()`, which moves it. It derives from ImageFieldFile
    so that an ImageField's width and height fields can be read from it too (untested here: no Pillow).
    """

    def __init__(self, staging: StagingArea, key: str, name: str, size: int, content_type: str) -> None:
        File.__init__(self, None, name)  # not FieldFile.__init__: the model field's descriptor sets field and storage
        self._committed = False
        self._staging = staging
        self.staged_key = key
        self.content_type = content_type
        self._staged_size = size

    def _get_staged_file(self) -> File[Any]:
        if getattr(self, "_file", None) is None:
            self._file = self._open()
        return self._file

    def _open(self) -> File[Any]:
        """The staged object, or once saved, the object at its final name."""
        return self.storage.open(self.name or "", "rb") if self._committed else self._staging.open(self.staged_key)

    def _set_staged_file(self, file: File[Any]) -> None:
        self._file = file

    def _del_staged_file(self) -> None:
        del self._file

    file = property(_get_staged_file, _set_staged_file, _del_staged_file)

    @property
    def size(self) -> int:
        return self._staged_size

    @property
    def closed(self) -> bool:
        """Without opening anything (File.closed would open the object to tell)."""
        file: File[Any] | None = getattr(self, "_file", None)
        return file is None or file.closed

    def open(self, mode: str | None = "rb", *args: Any, **kwargs: Any) -> StagedUpload:
        if self.closed:
            self._file = self._open()
        else:
            self._file.seek(0)
        return self

    def save(self, name: str, content: Any = None, save: bool = True) -> None:
        """Move the staged object to the model field's name for `name` (its `upload_to`), create-only."""
        field = getattr(self, "field", None)
        instance: Model | None = getattr(self, "instance", None)
        if field is None or instance is None:
            raise ValueError("assign the staged upload to a model's FileField before saving it")
        self.close()
        target = field.generate_filename(instance, name)
        storage = self.storage
        if isinstance(storage, DefaultStorage):  # the lazy default_storage: the storage it stands for
            storage = storages[DEFAULT_STORAGE_ALIAS]
        self.name = move_staged(self._staging, self.staged_key, storage, target, max_length=field.max_length)
        setattr(instance, field.attname, self.name)
        self._committed = True
        if save:
            instance.save()

    def close(self) -> None:
        file: File[Any] | None = getattr(self, "_file", None)
        if file is not None:
            file.close()
            del self._file


def _is_file_input(widget: object) -> bool:
    """Django's file widgets, which the admin passes by default: they would send the file through Django."""
    kind = widget if isinstance(widget, type) else type(widget)
    return issubclass(kind, forms.FileInput) and not issubclass(kind, DirectUploadWidget)


class DirectUploadField(forms.FileField):
    """A FileField whose file goes from the browser straight to the bucket.

    `storage` is where uploads are staged: a MinioBackend, a callable returning one, or None for
    `default_storage`; its alias needs MINIO_DIRECT_UPLOAD_PREFIX. The model field's own storage (where the
    file ends up) must be on the same server. `max_size`, `min_size` (bytes) and `content_types` (exact types or
    "type/" prefixes, from the file name) are checked in the browser, by the server while uploading (a POST's
    policy, each part's signed length) and again, on what arrived, when the form is validated.
    """

    widget = DirectUploadWidget
    rules: UploadRules
    _storage: StorageChoice

    def __init__(
        self,
        *,
        storage: StorageChoice = None,
        max_size: int = DEFAULT_MAX_SIZE,
        min_size: int = 1,
        content_types: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        if kwargs.get("widget") is not None and _is_file_input(kwargs["widget"]):
            kwargs["widget"] = None  # the admin's AdminFileWidget (or a ModelForm's default) would defeat the point
        super().__init__(**kwargs)
        if not isinstance(self.widget, DirectUploadWidget):
            raise ImproperlyConfigured("DirectUploadField needs a DirectUploadWidget")
        self.rules = UploadRules(max_size=max_size, min_size=min_size, content_types=tuple(content_types))
        self._storage = storage
        self.widget.spec = self.spec

    def staging(self) -> StagingArea:
        storage: Storage | None = self._storage() if callable(self._storage) else self._storage
        if storage is None:
            storage = storages[DEFAULT_STORAGE_ALIAS]
        if not isinstance(storage, MinioBackend):
            raise ImproperlyConfigured(f"DirectUploadField stages uploads in a MinioBackend, not {storage!r}")
        return StagingArea(storage)

    def spec(self) -> FieldSpec:
        """What the widget signs for the ticket view: where to stage, what to accept."""
        staging = self.staging()
        rules = self.rules
        return FieldSpec(staging.alias, staging.bucket, rules.max_size, rules.min_size, rules.content_types)

    def to_python(self, data: Any) -> StagedUpload | None:
        if data in self.empty_values:
            return None
        if isinstance(data, StagedUpload):
            return data
        staging = self.staging()
        try:
            staged = load(Staged, data, max_age=staging.expiry)  # a forged token: TamperedToken, 400
        except signing.SignatureExpired:
            raise ValidationError("The upload expired; please choose the file again.", code="expired") from None
        if (staged.alias, staged.bucket) != (staging.alias, staging.bucket) or not staging.owns(staged.key):
            raise ValidationError("This upload belongs to another field; please choose the file again.", code="other")
        return self._check(staging, staged)

    def _check(self, staging: StagingArea, staged: Staged) -> StagedUpload:
        """What arrived, checked against the field's rules; a failing object is deleted."""
        found = staging.inspect(staged.key)
        if found is None:
            raise ValidationError("The upload did not finish; please choose the file again.", code="missing")
        expected_type = content_type_for(staged.name)
        problem = self.rules.size_problem(found.size) or self.rules.type_problem(staged.name)
        if problem is None and found.content_type != expected_type:
            problem = f"The file was stored as {found.content_type}, not {expected_type}."
        if problem is None and self.max_length is not None and len(staged.name) > self.max_length:
            problem = f"The file name has more than {self.max_length} characters."
        if problem is not None:
            staging.delete(staged.key)
            raise ValidationError(problem, code="invalid")
        return StagedUpload(staging, staged.key, staged.name, found.size, found.content_type)

    def bound_data(self, data: Any, initial: Any) -> Any:
        return initial if data in (None, forms.widgets.FILE_INPUT_CONTRADICTION) else data
