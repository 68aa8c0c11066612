"""MinioBackend: Django's Storage API over the modules that do the work (static files: static.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import IO, Any, ClassVar

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.core.signals import setting_changed
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.views.decorators.debug import sensitive_variables
from minio import Minio
from minio.datatypes import Object

from .alias_settings import settings_for
from .aliases import MEDIA, alias_for
from .available_names import AvailableNames, saving_max_length
from .connection import S3Connection
from .deadlines import each_within, within
from .errors import BucketNotFoundError, is_not_found
from .files import MinioFile
from .headers import upload_headers
from .health import MinioServerStatus, check_server
from .masking import MaskedOptions
from .names import clean_name, clean_prefix, refuse_backslash
from .presign import Expiry, URLBuilder
from .presign_upload import METHODS, PostPolicy, UploadURLs
from .ranged import RangedReader
from .settings import IDENTITY_KEYS, URL_CACHE_KEYS, MinioSettings
from .source import UploadSource
from .upload import Uploader, WriteMode
from .urlcache import CachedURLBuilder
from .writer import BINARY_WRITE_MODES, TEXT_WRITE_MODES, ObjectWriter, WriterFile, name_taken

_buckets_seen: set[tuple[str, str]] = set()  # buckets known to exist, so a 404 on HEAD means "no such object"


@deconstructible(path="django_minio_backend.models.MinioBackend")
class MinioBackend(AvailableNames):
    """Media files in a MinIO/S3 bucket.

    Built by Django from `STORAGES` (OPTIONS arrive as keyword arguments) or by user code such as
    `MinioBackend(bucket_name="photos", storage_name="default")`. Keyword `MINIO_*` arguments
    override the alias's OPTIONS for this instance only.
    """

    default_alias: ClassVar[str] = "default"
    minio_role: ClassVar[str] = MEDIA  # how aliases.py tells our aliases, and static from media, without importing us

    @sensitive_variables("options")
    def __init__(
        self,
        bucket_name: str = "",
        storage_name: str | None = None,
        replace_existing: bool = False,
        **options: Any,
    ) -> None:
        # The keyword arguments as the caller wrote them (Django's deconstructible records them before any
        # __init__ runs, so a subclass's defaults are not among them): for a storage Django built, its
        # alias's OPTIONS, the keys it took as named parameters included.
        self._given = MaskedOptions(getattr(self, "_constructor_args", ((), {}))[1])
        self._bucket_name = bucket_name
        self._storage_name = storage_name
        self._options = MaskedOptions(options)  # the instance shows no secret (vars(), error pages)
        self.replace_existing = replace_existing
        self._forget_settings_in_migrations(options)
        setting_changed.connect(self._on_setting_changed)

    # Settings are resolved on first use, so storages built at import time (FileField(storage=...))
    # work before settings are complete and follow override_settings(STORAGES=...) like Django's own.
    @cached_property
    def alias(self) -> str:
        return alias_for(
            self._given,
            backend=type(self),
            default=self.default_alias,
            named=self._storage_name,
            complete=IDENTITY_KEYS,
        )

    @cached_property
    def settings(self) -> MinioSettings:
        return settings_for(self.alias, self._options)

    @cached_property
    def bucket(self) -> str:
        return self._bucket_name or self._default_bucket()

    @cached_property
    def _urls(self) -> URLBuilder:
        settings = self.settings
        if settings.url_caching_enabled and not settings.is_public(self.bucket):
            return CachedURLBuilder(settings, self.bucket, head=self._head_etag)
        own_bucket = self.bucket == self._default_bucket()  # MINIO_PUBLIC_URL_BASE maps to the alias's own bucket
        return URLBuilder(settings, self.bucket, public_base=settings.public_url_base if own_bucket else None)

    @cached_property
    def _connection(self) -> S3Connection:
        """The connection to the alias's server, shared by this storage's uploads, reads and SDK calls."""
        return S3Connection(self.settings)

    @cached_property
    def _uploader(self) -> Uploader:
        return Uploader(self.settings, self.bucket, self._connection)

    @cached_property
    def _upload_urls(self) -> UploadURLs:
        return UploadURLs(self.settings, self.bucket)

    def _on_setting_changed(self, *, setting: str, **_: Any) -> None:
        if setting in ("STORAGES", *URL_CACHE_KEYS):
            for name in ("alias", "settings", "bucket", "_urls", "_upload_urls", "_connection", "_uploader"):
                self.__dict__.pop(name, None)

    def _default_bucket(self) -> str:
        return self.settings.default_bucket

    def _forget_settings_in_migrations(self, options: Mapping[str, Any]) -> None:
        """Keep credentials and every other OPTIONS value out of `deconstruct()` (and off the instance);
        they come from settings."""
        args, kwargs = getattr(self, "_constructor_args", ((), {}))
        self._constructor_args = (args, {key: value for key, value in kwargs.items() if key not in options})

    # -- clients -----------------------------------------------------------------------------
    @property
    def client(self) -> Minio:
        """The process-wide SDK client for this alias (internal endpoint)."""
        return self._connection.client

    @property
    def is_public(self) -> bool:
        return self._urls.is_public

    # -- writing -------------------------------------------------------------------------------
    def _save(self, name: str, content: File[Any] | IO[Any]) -> str:
        """Upload, create-only unless `replace_existing`: when the name is taken (by an earlier object or by
        a concurrent save), the upload goes to an alternative name instead, never over that object."""
        name = clean_name(name)
        refuse_backslash(name)
        if self.settings.bucket_check_on_save:
            self._ensure_bucket()
        source = UploadSource(content)
        mode = WriteMode.REPLACE if self.replace_existing else WriteMode.CREATE_ONLY
        keys = self.settings.keys

        def upload(target: str) -> str | None:
            content_type, headers = self._object_headers(target)
            key = keys.key(target)
            return self._uploader.upload(key, source, content_type=content_type, headers=headers, mode=mode)

        saved, etag = self._under_free_name(name, saving_max_length(), upload, self.bucket)
        self._remember_etag(saved, etag)
        return saved

    def get_object_parameters(self, name: str) -> Mapping[str, object]:
        """Object parameters of one upload, merged over MINIO_OBJECT_PARAMETERS: override in a subclass to set
        CacheControl, ContentDisposition, ContentEncoding, ContentLanguage, Expires, Metadata (added to the
        alias's metadata) or ContentType per object. Server-side code only: nothing a client sends reaches it."""
        return {}

    def _object_headers(self, name: str) -> tuple[str, dict[str, str]]:
        """The content type and the other headers an upload of `name` sends (headers.upload_headers says which)."""
        return upload_headers(name, self.settings.object_headers, self.get_object_parameters(name), type(self).__name__)

    def _remember_etag(self, name: str, etag: str) -> None:
        """Called after every successful write: the URL cache's ETag index takes the new ETag, so the next
        url() is a new URL for the new content, without a HEAD."""
        self._urls.remember_etag(name, etag)

    def _ensure_bucket(self) -> None:
        with self._within("bucket check", ""):
            if not self.client.bucket_exists(bucket_name=self.bucket):
                self.client.make_bucket(bucket_name=self.bucket, location=self.settings.region)

    def delete(self, name: str) -> None:
        """Delete an object; deleting one that is already gone is not an error (S3 semantics)."""
        name = clean_name(name)
        with self._within("delete", name):
            self.client.remove_object(bucket_name=self.bucket, object_name=self.settings.keys.key(name))
        self._urls.forget(name)

    def _open_for_writing(self, name: str, mode: str) -> WriterFile:
        """A file whose bytes go up as they are written; the object appears at close(). Create-only unless
        `replace_existing`: a writer asks for this exact name, so a taken one raises FileExistsError (here,
        after one HEAD, or at close() if taken meanwhile) instead of moving to another name."""
        name = clean_name(name)
        refuse_backslash(name)
        if self.settings.bucket_check_on_save:
            self._ensure_bucket()
        if not self.replace_existing and self.exists(name):
            raise name_taken(self.bucket, name, "already exists")
        settings = self.settings
        content_type, headers = self._object_headers(name)
        writer = ObjectWriter(
            self._uploader,
            name,
            key=settings.keys.key(name),
            bucket=self.bucket,
            headers={"Content-Type": content_type, **headers},
            mode=WriteMode.REPLACE if self.replace_existing else WriteMode.CREATE_ONLY,
            part_size=settings.multipart_part_size,
            workers=settings.upload_workers,
            stored=self._remember_etag,
        )
        return WriterFile(writer, name, mode)

    # -- reading -------------------------------------------------------------------------------
    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if mode in BINARY_WRITE_MODES or mode in TEXT_WRITE_MODES:
            return self._open_for_writing(name, mode)
        if mode not in ("r", "rb", "rt"):
            raise ValueError(
                f"MinioBackend.open supports 'rb' and 'r' (UTF-8) to read, 'wb' and 'w' (UTF-8) to write a new "
                f"object, not {mode!r}: an object cannot be appended to or changed in place"
            )
        name = clean_name(name)
        # One GET of the first range; a missing object fails here with FileNotFoundError, not on first read.
        settings = self.settings
        with self._within("open", name):
            reader = RangedReader.open(
                self._connection,
                self.bucket,
                settings.keys.key(name),
                chunk_size=settings.read_chunk_size,
                read_ahead_workers=settings.upload_workers,
            )
        return MinioFile(reader, name, mode)

    def _within(self, operation: str, name: str) -> within:
        """Bound a call by MINIO_REQUEST_DEADLINE: a call inside it (a HEAD, a bucket check) shares its deadline."""
        target = f"{self.bucket}/{name}" if name else self.bucket
        return within(self.settings.request_deadline, f"{operation}({target!r})")

    def _stat(self, name: str) -> Object:
        key = self.settings.keys.key(name)
        with self._within("HEAD", name):
            try:
                return self.client.stat_object(bucket_name=self.bucket, object_name=key)
            except Exception as exc:
                if is_not_found(exc):
                    self._require_bucket()
                    raise FileNotFoundError(f"{self.bucket}/{key} does not exist") from exc
                raise

    def _require_bucket(self) -> None:
        """A HEAD answers 404 alike for a missing object and a missing bucket; tell them apart once per process,
        so a missing bucket raises BucketNotFoundError instead of passing for "no such file"."""
        if (self.settings.endpoint, self.bucket) not in _buckets_seen:
            self._check_bucket()

    def _check_bucket(self) -> None:
        """One request: does the bucket exist?"""
        with self._within("bucket check", ""):
            exists = self.client.bucket_exists(bucket_name=self.bucket)
        if not exists:
            raise BucketNotFoundError(f"Bucket {self.bucket!r} does not exist (run manage.py initialize_buckets)")
        _buckets_seen.add((self.settings.endpoint, self.bucket))

    def _head_etag(self, name: str) -> str:
        """The object's ETag by one HEAD, "" when there is no such object; for the URL cache's misses."""
        try:
            with self._within("url", name):
                return self._stat(name).etag or ""
        except FileNotFoundError:
            return ""

    def exists(self, name: str) -> bool:
        """True/False for found/not found; any other failure raises instead of answering wrongly.
        The empty name is the bucket's root, as Django's collectstatic --clear asks."""
        if name == "":
            with self._within("exists", ""):
                return bool(self.client.bucket_exists(bucket_name=self.bucket))
        name = clean_name(name)
        try:
            with self._within("exists", name):
                self._stat(name)
        except FileNotFoundError:
            return False
        return True

    def size(self, name: str) -> int:
        name = clean_name(name)
        with self._within("size", name):
            size = self._stat(name).size
        if size is None:
            raise OSError(f"The server reported no size for {self.bucket}/{name}")
        return size

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """One delimiter listing (paginated by the SDK), not a recursive scan; each page within the deadline."""
        prefix = self.settings.keys.key(clean_prefix(path))
        directories: list[str] = []
        files: list[str] = []
        listing = self.client.list_objects(bucket_name=self.bucket, prefix=prefix or None, recursive=False)
        label = f"a listdir({self.bucket + '/' + prefix!r}) page"
        for item in each_within(listing, self.settings.request_deadline, label):
            relative = (item.object_name or "")[len(prefix) :]
            if item.is_dir:
                directories.append(relative.rstrip("/"))
            elif relative:
                files.append(relative)
        return directories, files

    def get_modified_time(self, name: str) -> datetime:
        name = clean_name(name)
        with self._within("get_modified_time", name):
            modified = self._stat(name).last_modified
        if modified is None:
            raise OSError(f"The server reported no modification time for {self.bucket}/{name}")
        if getattr(django_settings, "USE_TZ", True):
            return modified
        return timezone.make_naive(modified)

    def get_created_time(self, name: str) -> datetime:
        """S3 keeps no creation time; an object's last write is its creation, since objects are immutable."""
        return self.get_modified_time(name)

    def get_accessed_time(self, name: str) -> datetime:
        raise NotImplementedError("S3 does not record access times")

    def path(self, name: str) -> str:
        raise NotImplementedError("Objects in MinIO have no local filesystem path; use open() or url()")

    # -- URLs ----------------------------------------------------------------------------------
    def url(
        self,
        name: str | None,
        parameters: Mapping[str, str] | None = None,
        expire: Expiry = None,
        http_method: str | None = None,
    ) -> str:
        """Plain URL for public buckets, presigned GET (valid for MINIO_URL_EXPIRY_HOURS, or `expire`) for private
        ones, served from the URL cache when MINIO_URL_CACHING_ENABLED.

        `http_method="PUT"`: a presigned upload of this name, never cached; `parameters` are headers it must send
        (`{"Content-Type": "image/png"}`). `"HEAD"` is signed like a GET. Other methods raise ValueError."""
        if name is None:
            raise ValueError("url() needs an object name")
        if http_method is None or http_method == "GET":
            return self._urls.url(clean_name(name), parameters=parameters, expire=expire)
        if http_method not in METHODS:
            raise ValueError(f"http_method must be 'GET', 'PUT' or 'HEAD', not {http_method!r}")
        name = clean_name(name)
        if http_method == "PUT":
            refuse_backslash(name)
        key = self.settings.keys.key(name)
        return self._upload_urls.url(http_method, key, parameters=parameters, expire=expire)

    def presigned_post(
        self, name: str, *, max_size: int, content_type: str | None = None, expire: Expiry = None
    ) -> PostPolicy:
        """`.url` and `.fields` of an HTML form POST straight to the bucket, accepting exactly `name`, 1 to `max_size`
        bytes, the `content_type` (a prefix when it ends with "/") and the expiry; no request is made."""
        name = clean_name(name)
        refuse_backslash(name)
        key = self.settings.keys.key(name)
        return self._upload_urls.post(key, max_size=max_size, content_type=content_type, expire=expire)

    def url_many(
        self, names: Iterable[str], parameters: Mapping[str, str] | None = None, expire: Expiry = None
    ) -> dict[str, str]:
        """``{name: url(name)}`` for a list page: with URL caching, one cache round trip for all of them."""
        return self._urls.url_many([clean_name(name) for name in names], parameters=parameters, expire=expire)

    # -- health --------------------------------------------------------------------------------
    def is_minio_available(self) -> MinioServerStatus:
        """Ask the server whether it is up (and accepts our credentials for this bucket), within
        MINIO_HEALTH_CHECK_TIMEOUT seconds. Failures are answers, not exceptions, bad settings included."""
        try:
            settings = self.settings
        except ImproperlyConfigured as exc:
            return MinioServerStatus(False, f"configuration error: {exc}")
        return check_server(settings, self.bucket)
