"""Every key of the README's settings table is parsed, validated and reaches the object that uses it.

The table is read from README.md itself, and the schema (`settings.Options`) must list exactly its keys: a key
added to one and not the other fails here, as does a key that is accepted and then silently ignored.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
import redis
import urllib3
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from minio import Minio
from minio.deleteobjects import DeleteObject

from cache_backends.lru import LRUCache
from django_minio_backend import MinioBackend, MinioBackendStatic
from django_minio_backend import connection as clients
from django_minio_backend.alias_settings import parse_options as parse
from django_minio_backend.apps import parse_all
from django_minio_backend.bucket_plan import plan
from django_minio_backend.direct import views
from django_minio_backend.direct.staging import StagingArea
from django_minio_backend.direct.tokens import FieldSpec, dump
from django_minio_backend.errors import DeadlineExceeded
from django_minio_backend.policies import PUBLIC_LIST_SID, public_read_policy
from django_minio_backend.setting_rules import RULES
from django_minio_backend.settings import (
    BOUNDS,
    DEFAULT_STATIC_BUCKET,
    KEYS,
    REQUIRED_KEYS,
    MiB,
    MinioSettings,
    SettingError,
)
from django_minio_backend.urlcache import shared_cache
from tests.counting import CountingPoolManager
from tests.credentials import server_keys
from tests.helpers import query
from tests.servers import RedisServer, free_ports
from tests.settings import PRIVATE_BUCKET

README = Path(__file__).resolve().parent.parent / "README.md"
STATIC_PROVIDER = "tests.credentials.static_provider"
MEDIA = "django_minio_backend.models.MinioBackend"
STATIC = "django_minio_backend.models.MinioBackendStatic"
BASE: dict[str, Any] = {"MINIO_ENDPOINT": "minio:9000", "MINIO_ACCESS_KEY": "ak", "MINIO_SECRET_KEY": "sk"}
POOL = urllib3.PoolManager()
HOOK = public_read_policy("hooked")


def readme_table() -> dict[str, str]:
    """Key -> the Default column of the table under README's "### Settings"."""
    section = README.read_text().split("\n### Settings\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(MINIO_[A-Z_]+)` \| (.+?) \|", section, flags=re.MULTILINE))


def test_the_readme_table_and_the_schema_list_the_same_keys() -> None:
    table = readme_table()
    assert list(table) == list(KEYS)  # the same keys, in the same order
    assert {key for key, default in table.items() if default == "required"} == REQUIRED_KEYS


# -- parsed and validated ---------------------------------------------------------------------------------------
# key -> (a valid value other than the default, where the parsed settings show it, what they show)
PARSED: dict[str, tuple[object, Callable[[MinioSettings], object], object]] = {
    "MINIO_ENDPOINT": ("Files.Internal:9000", lambda s: s.endpoint, "files.internal:9000"),
    "MINIO_ACCESS_KEY": ("other-ak", lambda s: s.access_key, "other-ak"),
    "MINIO_SECRET_KEY": ("other-sk", lambda s: s.secret_key, "other-sk"),
    "MINIO_CREDENTIALS_PROVIDER": (STATIC_PROVIDER, lambda s: s.credentials_provider, STATIC_PROVIDER),
    "MINIO_USE_HTTPS": (True, lambda s: (s.use_https, s.external_use_https), (True, True)),
    "MINIO_REGION": ("eu-west-3", lambda s: s.region, "eu-west-3"),
    "MINIO_EXTERNAL_ENDPOINT": ("CDN.example.com", lambda s: s.external_endpoint, "cdn.example.com"),
    "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": (True, lambda s: s.external_use_https, True),
    "MINIO_PRIVATE_BUCKETS": (["p-one", "p-two"], lambda s: s.private_buckets, ("p-one", "p-two")),
    "MINIO_PUBLIC_BUCKETS": (["pub"], lambda s: (s.public_buckets, s.is_public("pub")), (("pub",), True)),
    "MINIO_DEFAULT_BUCKET": ("media-x", lambda s: s.default_bucket, "media-x"),
    "MINIO_STATIC_FILES_BUCKET": (
        "static-x",
        lambda s: (s.static_files_bucket, s.is_public("static-x")),
        ("static-x", True),
    ),
    "MINIO_URL_EXPIRY_HOURS": (
        timedelta(hours=3),
        lambda s: (s.url_expiry, s.url_expiry_seconds),
        (timedelta(hours=3), 10800),
    ),
    "MINIO_URL_STABLE_WINDOW": (600, lambda s: s.url_window_seconds, 600),
    "MINIO_CONSISTENCY_CHECK_ON_START": (True, lambda s: s.consistency_check_on_start, True),
    "MINIO_BUCKET_CHECK_ON_SAVE": (True, lambda s: s.bucket_check_on_save, True),
    "MINIO_POLICY_HOOKS": ([("hooked", HOOK)], lambda s: s.policy_hooks, (("hooked", HOOK),)),
    "MINIO_MULTIPART_UPLOAD": (True, lambda s: s.multipart_upload, True),
    "MINIO_MULTIPART_THRESHOLD": (MiB, lambda s: s.multipart_threshold, MiB),
    "MINIO_MULTIPART_PART_SIZE": (6 * MiB, lambda s: s.multipart_part_size, 6 * MiB),
    "MINIO_UPLOAD_WORKERS": (8, lambda s: s.upload_workers, 8),
    "MINIO_READ_CHUNK_SIZE": (1024, lambda s: s.read_chunk_size, 1024),
    "MINIO_HTTP_CLIENT": (POOL, lambda s: s.http_client, POOL),
    "MINIO_CONNECT_TIMEOUT": (2.5, lambda s: s.connect_timeout, 2.5),
    "MINIO_READ_TIMEOUT": (7.5, lambda s: s.read_timeout, 7.5),
    "MINIO_HEALTH_CHECK_TIMEOUT": (1.5, lambda s: s.health_check_timeout, 1.5),
    "MINIO_REQUEST_DEADLINE": (12, lambda s: s.request_deadline, 12.0),
    "MINIO_URL_CACHING_ENABLED": (True, lambda s: s.url_caching_enabled, True),
    "MINIO_URL_CACHE_BACKEND": ("lru", lambda s: s.url_cache_backend, "lru"),
    "MINIO_URL_CACHE_TIMEOUT": (600, lambda s: s.url_cache_timeout, 600),
    "MINIO_URL_CACHE_PREFIX": ("p_", lambda s: s.url_cache_prefix, "p_"),
    "MINIO_URL_CACHE_REDIS_URL": ("redis://cache:6379/1", lambda s: s.url_cache_redis_url, "redis://cache:6379/1"),
    "MINIO_URL_CACHE_DJANGO_ALIAS": ("urls", lambda s: s.url_cache_django_alias, "urls"),
    "MINIO_URL_CACHE_MAX_ENTRIES": (50, lambda s: s.url_cache_max_entries, 50),
    "MINIO_BUCKET_LISTING": (True, lambda s: s.bucket_listing, True),
    "MINIO_STATIC_LISTING_TTL": (5.0, lambda s: s.static_listing_ttl, 5.0),
    "MINIO_KEY_PREFIX": ("media", lambda s: (s.key_prefix, s.keys.key("a.jpg")), ("media/", "media/a.jpg")),
    "MINIO_OBJECT_PARAMETERS": (
        {"CacheControl": "max-age=60", "Metadata": {"Origin": "upload"}},
        lambda s: s.object_headers,
        {"Cache-Control": "max-age=60", "x-amz-meta-origin": "upload"},
    ),
    "MINIO_PUBLIC_URL_BASE": (
        "https://cdn.example.com/static",
        lambda s: s.public_url_base,
        "https://cdn.example.com/static/",
    ),
    "MINIO_CORS_ALLOWED_ORIGINS": (["https://app.example"], lambda s: s.cors_allowed_origins, ("https://app.example",)),
    "MINIO_DIRECT_UPLOAD_PREFIX": ("staged/", lambda s: s.direct_upload_prefix, "staged/"),
    "MINIO_DIRECT_UPLOAD_EXPIRY": (timedelta(minutes=30), lambda s: s.direct_upload_expiry, timedelta(minutes=30)),
    "MINIO_DIRECT_UPLOAD_PERMISSION": (
        "app.rules.can_upload",
        lambda s: s.direct_upload_permission,
        "app.rules.can_upload",
    ),
}
NEEDS: dict[str, dict[str, Any]] = {"MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": {"MINIO_EXTERNAL_ENDPOINT": "cdn.example.com"}}
# key -> the keys of BASE it stands in for when it is given (a provider replaces both static keys)
REPLACES: dict[str, tuple[str, ...]] = {"MINIO_CREDENTIALS_PROVIDER": ("MINIO_ACCESS_KEY", "MINIO_SECRET_KEY")}

WRONG_TYPES: dict[str, object] = {
    "MINIO_ENDPOINT": 9000,
    "MINIO_ACCESS_KEY": 1,
    "MINIO_SECRET_KEY": b"sk",
    "MINIO_CREDENTIALS_PROVIDER": 42,
    "MINIO_USE_HTTPS": "yes",
    "MINIO_REGION": 1,
    "MINIO_EXTERNAL_ENDPOINT": ["cdn.example.com"],
    "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": "yes",
    "MINIO_PRIVATE_BUCKETS": "one-bucket",
    "MINIO_PUBLIC_BUCKETS": [1],
    "MINIO_DEFAULT_BUCKET": ["media"],
    "MINIO_STATIC_FILES_BUCKET": None,
    "MINIO_URL_EXPIRY_HOURS": 24,
    "MINIO_URL_STABLE_WINDOW": 1.5,
    "MINIO_CONSISTENCY_CHECK_ON_START": "true",
    "MINIO_BUCKET_CHECK_ON_SAVE": 1,
    "MINIO_POLICY_HOOKS": [("bucket",)],
    "MINIO_MULTIPART_UPLOAD": "no",
    "MINIO_MULTIPART_THRESHOLD": "10MB",
    "MINIO_MULTIPART_PART_SIZE": 5.5 * MiB,
    "MINIO_UPLOAD_WORKERS": True,
    "MINIO_READ_CHUNK_SIZE": "4MiB",
    "MINIO_HTTP_CLIENT": object(),
    "MINIO_CONNECT_TIMEOUT": "5",
    "MINIO_READ_TIMEOUT": None,
    "MINIO_HEALTH_CHECK_TIMEOUT": [3],
    "MINIO_REQUEST_DEADLINE": timedelta(seconds=30),
    "MINIO_URL_CACHING_ENABLED": 1,
    "MINIO_URL_CACHE_BACKEND": None,
    "MINIO_URL_CACHE_TIMEOUT": 1.5,
    "MINIO_URL_CACHE_PREFIX": 1,
    "MINIO_URL_CACHE_REDIS_URL": 6379,
    "MINIO_URL_CACHE_DJANGO_ALIAS": None,
    "MINIO_URL_CACHE_MAX_ENTRIES": "10",
    "MINIO_BUCKET_LISTING": "no",
    "MINIO_STATIC_LISTING_TTL": "60",
    "MINIO_KEY_PREFIX": ["media"],
    "MINIO_OBJECT_PARAMETERS": [("CacheControl", "no-cache")],
    "MINIO_PUBLIC_URL_BASE": 443,
    "MINIO_CORS_ALLOWED_ORIGINS": "https://app.example",
    "MINIO_DIRECT_UPLOAD_PREFIX": 1,
    "MINIO_DIRECT_UPLOAD_EXPIRY": 3600,
    "MINIO_DIRECT_UPLOAD_PERMISSION": print,
}

# key -> (a value of the right type that a bound or a rule refuses, the other keys that rule looks at)
BAD_VALUES: dict[str, tuple[object, dict[str, Any]]] = {
    "MINIO_ENDPOINT": ("http://minio:9000", {}),
    "MINIO_ACCESS_KEY": ("ak", {"MINIO_CREDENTIALS_PROVIDER": STATIC_PROVIDER, "MINIO_SECRET_KEY": None}),
    "MINIO_SECRET_KEY": ("sk", {"MINIO_CREDENTIALS_PROVIDER": STATIC_PROVIDER, "MINIO_ACCESS_KEY": None}),
    "MINIO_CREDENTIALS_PROVIDER": ("tests.credentials.no_such_provider", {}),
    "MINIO_EXTERNAL_ENDPOINT": ("https://cdn.example.com", {}),
    "MINIO_PUBLIC_BUCKETS": (["both"], {"MINIO_PRIVATE_BUCKETS": ["both"]}),
    "MINIO_URL_EXPIRY_HOURS": (timedelta(days=8), {}),
    "MINIO_URL_STABLE_WINDOW": (timedelta(hours=2), {"MINIO_URL_EXPIRY_HOURS": timedelta(hours=2)}),
    "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": (True, {}),
    "MINIO_MULTIPART_THRESHOLD": (-1, {}),
    "MINIO_MULTIPART_PART_SIZE": (MiB, {}),
    "MINIO_UPLOAD_WORKERS": (0, {}),
    "MINIO_READ_CHUNK_SIZE": (0, {}),
    "MINIO_CONNECT_TIMEOUT": (0, {}),
    "MINIO_READ_TIMEOUT": (float("inf"), {}),
    "MINIO_HEALTH_CHECK_TIMEOUT": (float("nan"), {}),
    "MINIO_REQUEST_DEADLINE": (float("inf"), {}),
    "MINIO_URL_CACHE_BACKEND": ("memcache", {"MINIO_URL_CACHING_ENABLED": True}),
    "MINIO_URL_CACHE_TIMEOUT": (0, {}),
    "MINIO_URL_CACHE_REDIS_URL": ("", {"MINIO_URL_CACHING_ENABLED": True, "MINIO_URL_CACHE_BACKEND": "redis"}),
    "MINIO_URL_CACHE_MAX_ENTRIES": (0, {}),
    "MINIO_STATIC_LISTING_TTL": (-1.0, {}),
    "MINIO_KEY_PREFIX": ("../media", {}),
    "MINIO_OBJECT_PARAMETERS": ({"CacheControll": "no-cache"}, {}),
    "MINIO_PUBLIC_URL_BASE": ("cdn.example.com/static/", {}),
    "MINIO_CORS_ALLOWED_ORIGINS": (["https://app.example/"], {}),
    "MINIO_DIRECT_UPLOAD_PREFIX": ("staged", {}),
    "MINIO_DIRECT_UPLOAD_EXPIRY": (timedelta(days=1), {}),
    "MINIO_DIRECT_UPLOAD_PERMISSION": ("can_upload", {}),
}


def test_every_key_has_its_cases() -> None:
    assert set(PARSED) == set(WRONG_TYPES) == set(KEYS)
    assert set(BAD_VALUES) == set(RULES) | set(BOUNDS)  # every rule and every bound has a value it refuses
    assert set(RULES) <= set(KEYS) and set(BOUNDS) <= set(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_each_key_is_parsed(key: str) -> None:
    value, shown, expected = PARSED[key]
    given = {name: option for name, option in BASE.items() if name not in REPLACES.get(key, ())}
    assert shown(parse("default", {**given, **NEEDS.get(key, {}), key: value})) == expected
    assert shown(parse("default", {**BASE, **NEEDS.get(key, {})})) != expected  # not what the default gives


@pytest.mark.parametrize("key", KEYS)
def test_each_key_refuses_a_wrong_type_naming_it(key: str) -> None:
    with pytest.raises(SettingError) as info:
        parse("media", {**BASE, key: WRONG_TYPES[key]})
    assert (info.value.alias, info.value.key) == ("media", key)
    assert str(info.value).startswith(f"STORAGES['media']['OPTIONS']['{key}']")


@pytest.mark.parametrize("key", list(BAD_VALUES))
def test_each_rule_refuses_a_bad_value_naming_its_key(key: str) -> None:
    value, others = BAD_VALUES[key]
    with pytest.raises(SettingError) as info:
        parse("media", {**BASE, **others, key: value})
    assert (info.value.key, info.value.problem) == (key, "value")
    assert str(info.value).startswith(f"STORAGES['media']['OPTIONS']['{key}'] ")


# -- reaching the objects that use them -------------------------------------------------------------------------
REACHED: set[str] = set()
Test = TypeVar("Test", bound=Callable[..., None])


def reaches(*keys: str) -> Callable[[Test], Test]:
    """Mark a test as the proof that these keys reach the object that uses them."""
    REACHED.update(keys)
    return lambda test: test


def test_every_key_is_shown_to_reach_its_user() -> None:
    assert set(KEYS) == REACHED


def two_aliases(**options: Any) -> dict[str, Any]:
    return {
        "default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, **options}},
        "staticfiles": {"BACKEND": STATIC, "OPTIONS": {**BASE, **options}},
    }


@reaches("MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_REGION", "MINIO_URL_EXPIRY_HOURS")
def test_url_builder_signs_with_the_credentials_region_and_expiry() -> None:
    keys = {"MINIO_ACCESS_KEY": "other-ak", "MINIO_SECRET_KEY": "other-sk", "MINIO_REGION": "eu-west-3"}
    with override_settings(STORAGES=two_aliases(**keys, MINIO_URL_EXPIRY_HOURS=timedelta(hours=3))):
        url = storages["default"].url("a b.txt")
    signed = query(url)
    assert signed["X-Amz-Credential"].split("/")[0::2] == ["other-ak", "eu-west-3", "aws4_request"]
    assert signed["X-Amz-Expires"] == "10800"
    at = datetime.strptime(signed["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    sdk = Minio("minio:9000", access_key="other-ak", secret_key="other-sk", secure=False, region="eu-west-3")
    expected = sdk.presigned_get_object(
        bucket_name="auto-generated-bucket-media-files",
        object_name="a b.txt",
        expires=timedelta(hours=3),
        request_date=at,
    )
    assert query(expected)["X-Amz-Signature"] == signed["X-Amz-Signature"]  # the SDK, given the secret, agrees


@reaches("MINIO_URL_STABLE_WINDOW")
def test_stable_window_sets_the_signing_time() -> None:
    def signed_at(**options: Any) -> int:
        with override_settings(STORAGES=two_aliases(**options)):
            url = storages["default"].url("a.txt")
        at = datetime.strptime(query(url)["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return int(at.timestamp())

    assert signed_at(MINIO_URL_STABLE_WINDOW=600) % 600 == 0
    assert signed_at(MINIO_URL_STABLE_WINDOW=timedelta(days=1)) % 86400 == 0
    assert abs(signed_at(MINIO_URL_STABLE_WINDOW=0) - time.time()) < 5  # off: signed now
    assert time.time() - signed_at() < 7 * 86400 * 0.2  # the default: a fifth of the 7-day expiry


@reaches("MINIO_USE_HTTPS", "MINIO_EXTERNAL_ENDPOINT", "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS")
def test_urls_use_the_external_host_and_scheme() -> None:
    with override_settings(STORAGES=two_aliases(MINIO_USE_HTTPS=True)):
        assert storages["default"].url("a.txt").startswith("https://minio:9000/")
    external = {"MINIO_EXTERNAL_ENDPOINT": "Files.Example.com", "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": True}
    with override_settings(STORAGES=two_aliases(**external)):
        assert storages["default"].url("a.txt").startswith("https://files.example.com/")
        assert storages["staticfiles"].url("a.txt").startswith("https://files.example.com/")


@reaches(
    "MINIO_PRIVATE_BUCKETS",
    "MINIO_PUBLIC_BUCKETS",
    "MINIO_DEFAULT_BUCKET",
    "MINIO_STATIC_FILES_BUCKET",
    "MINIO_POLICY_HOOKS",
    "MINIO_BUCKET_LISTING",
)
def test_bucket_keys_reach_the_storages_and_initialize_buckets() -> None:
    buckets = {
        "MINIO_PRIVATE_BUCKETS": ["p-one"],
        "MINIO_PUBLIC_BUCKETS": ["pub"],
        "MINIO_DEFAULT_BUCKET": "media-x",
        "MINIO_STATIC_FILES_BUCKET": "static-x",
        "MINIO_POLICY_HOOKS": [("hooked", HOOK)],
        "MINIO_BUCKET_LISTING": True,
    }
    with override_settings(STORAGES=two_aliases(**buckets)):
        media, static = storages["default"], storages["staticfiles"]
        assert isinstance(media, MinioBackend) and isinstance(static, MinioBackendStatic)
        assert (media.bucket, media.is_public) == ("media-x", False)
        assert (static.bucket, static.is_public) == ("static-x", True)
        assert "X-Amz-Signature" not in MinioBackend(bucket_name="pub").url("a.txt")
        assert "X-Amz-Signature" in MinioBackend(bucket_name="p-one").url("a.txt")
        targets = {target.bucket: target for target in plan()}
    assert set(targets) == {"p-one", "pub", "media-x", "static-x", "hooked"}
    assert targets["p-one"].managed and not targets["p-one"].public
    assert targets["pub"].public and PUBLIC_LIST_SID in json.dumps(targets["pub"].wanted_policy)
    assert targets["hooked"].wanted_policy == HOOK


@reaches("MINIO_CONNECT_TIMEOUT", "MINIO_READ_TIMEOUT", "MINIO_UPLOAD_WORKERS", "MINIO_HTTP_CLIENT")
def test_pool_keys_reach_the_http_pool() -> None:
    keys = {"MINIO_CONNECT_TIMEOUT": 2.5, "MINIO_READ_TIMEOUT": 7.5, "MINIO_UPLOAD_WORKERS": 8}
    pool = clients.http_pool(parse("default", {**BASE, **keys, "MINIO_ENDPOINT": "pool-keys:9000"}))
    timeout = pool.connection_pool_kw["timeout"]
    assert (timeout.connect_timeout, timeout.read_timeout) == (2.5, 7.5)
    assert pool.connection_pool_kw["maxsize"] == 16  # room for the parts of 8 workers and their reads
    assert clients.http_pool(parse("default", {**BASE, "MINIO_HTTP_CLIENT": POOL})) is POOL


@reaches("MINIO_CONSISTENCY_CHECK_ON_START")
def test_start_up_reads_the_consistency_check() -> None:
    storages_setting = two_aliases()
    storages_setting["default"]["OPTIONS"]["MINIO_CONSISTENCY_CHECK_ON_START"] = True
    with override_settings(STORAGES=storages_setting):
        assert parse_all() == [("default", True), ("staticfiles", False)]  # what ready() initialises


@reaches("MINIO_STATIC_LISTING_TTL")
def test_static_listing_ttl_reaches_the_listing() -> None:
    with override_settings(STORAGES=two_aliases(MINIO_STATIC_LISTING_TTL=5.0)):
        static = storages["staticfiles"]
        assert isinstance(static, MinioBackendStatic)
        assert static.listing._ttl == 5.0


@reaches("MINIO_REQUEST_DEADLINE")
def test_request_deadline_bounds_a_call(silent_server: str) -> None:
    options = {"MINIO_ENDPOINT": silent_server, "MINIO_READ_TIMEOUT": 60.0, "MINIO_REQUEST_DEADLINE": 0.5}
    with override_settings(STORAGES=two_aliases(**options)):
        storage = storages["default"]
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            storage.exists("a.txt")
    assert time.monotonic() - started < 20  # the deadline, not the 60 s read timeout or the default 30 s


@reaches("MINIO_HEALTH_CHECK_TIMEOUT")
def test_health_check_timeout_bounds_the_probe(silent_server: str) -> None:
    options = {"MINIO_ENDPOINT": silent_server, "MINIO_HEALTH_CHECK_TIMEOUT": 0.2}
    with override_settings(STORAGES=two_aliases(**options)):
        storage = storages["default"]
        assert isinstance(storage, MinioBackend)
        started = time.monotonic()
        status = storage.is_minio_available()
    assert not status
    assert time.monotonic() - started < 2.5  # within 0.2 s and some slack, not the default 3 s


# -- against the live server ------------------------------------------------------------------------------------
def live_storage(**options: Any) -> MinioBackend:
    return MinioBackend(bucket_name=PRIVATE_BUCKET, storage_name="default", **options)


@reaches("MINIO_ENDPOINT")
def test_endpoint_reaches_the_client(live_settings: dict[str, Any], admin_client: Minio, unique: str) -> None:
    name = f"{unique}/here.txt"
    admin_client.put_object(bucket_name=PRIVATE_BUCKET, object_name=name, data=io.BytesIO(b"x"), length=1)
    assert live_storage().exists(name)
    (port,) = free_ports(1)
    with pytest.raises(Exception) as info:
        live_storage(MINIO_ENDPOINT=f"127.0.0.1:{port}", MINIO_REQUEST_DEADLINE=5.0).exists(name)
    assert not isinstance(info.value, FileNotFoundError)


@reaches("MINIO_CREDENTIALS_PROVIDER")
def test_credentials_provider_signs_requests_and_urls(live_settings: dict[str, Any], unique: str) -> None:
    storage = live_storage(
        MINIO_ACCESS_KEY=None,
        MINIO_SECRET_KEY=None,
        MINIO_CREDENTIALS_PROVIDER="tests.credentials.server_provider",  # the only credentials it has
    )
    name = storage.save(f"{unique}/by-provider.txt", ContentFile(b"p"))  # our own signed PUT
    assert storage.exists(name)  # the SDK client's HEAD
    url = storage.url(name)
    assert query(url)["X-Amz-Credential"].startswith(f"{server_keys()[0]}/")
    with urllib3.PoolManager() as pool:
        assert pool.request("GET", url).data == b"p"


def parts_of(admin_client: Minio, name: str) -> int:
    """The number of parts of a multipart upload (its ETag ends with "-N"), 0 for a single PUT."""
    etag = admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=name).etag or ""
    return int(etag.rpartition("-")[2]) if "-" in etag else 0


@reaches("MINIO_MULTIPART_UPLOAD", "MINIO_MULTIPART_THRESHOLD", "MINIO_MULTIPART_PART_SIZE")
def test_multipart_keys_shape_the_upload(live_settings: dict[str, Any], admin_client: Minio, unique: str) -> None:
    def parts(size: int, **options: Any) -> int:
        name = live_storage(**options).save(f"{unique}/{uuid.uuid4().hex}.bin", ContentFile(b"x" * size))
        return parts_of(admin_client, name)

    assert parts(11 * MiB) == 0  # multipart is off by default
    assert parts(11 * MiB, MINIO_MULTIPART_UPLOAD=True) == 2  # parts of 10 MiB
    assert parts(11 * MiB, MINIO_MULTIPART_UPLOAD=True, MINIO_MULTIPART_PART_SIZE=5 * MiB) == 3
    assert parts(6 * MiB, MINIO_MULTIPART_UPLOAD=True) == 0  # below the 10 MiB threshold
    assert parts(6 * MiB, MINIO_MULTIPART_UPLOAD=True, MINIO_MULTIPART_THRESHOLD=5 * MiB) == 1


@reaches("MINIO_READ_CHUNK_SIZE")
def test_read_chunk_size_sets_the_ranges_read(live_settings: dict[str, Any], unique: str) -> None:
    def gets(**options: Any) -> int:
        counter = CountingPoolManager()
        storage = live_storage(MINIO_HTTP_CLIENT=counter, **options)
        name = storage.save(f"{unique}/{uuid.uuid4().hex}.txt", ContentFile(b"y" * 100))
        counter.reset()
        with storage.open(name) as file:
            assert file.read() == b"y" * 100
        return counter.count("GET")

    assert gets() == 1  # one range of 4 MiB
    assert gets(MINIO_READ_CHUNK_SIZE=10) > 1  # 10 bytes, then ranges of 40


@reaches("MINIO_BUCKET_CHECK_ON_SAVE")
def test_bucket_check_on_save_checks_and_creates_the_bucket(
    live_settings: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    def bucket_checks(**options: Any) -> int:
        counter = CountingPoolManager()
        live_storage(MINIO_HTTP_CLIENT=counter, **options).save(f"{unique}/{uuid.uuid4().hex}", ContentFile(b"a"))
        return sum(
            method == "HEAD" and urlsplit(url).path.strip("/") == PRIVATE_BUCKET for method, url in counter.requests
        )

    assert bucket_checks() == 0
    assert bucket_checks(MINIO_BUCKET_CHECK_ON_SAVE=True) == 1
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    storage = MinioBackend(bucket_name=bucket, storage_name="default", MINIO_BUCKET_CHECK_ON_SAVE=True)
    try:
        assert storage.save("a.txt", ContentFile(b"a")) == "a.txt"
        assert admin_client.bucket_exists(bucket_name=bucket)
    finally:
        if admin_client.bucket_exists(bucket_name=bucket):
            errors = admin_client.remove_objects(bucket_name=bucket, delete_object_list=[DeleteObject(name="a.txt")])
            assert not list(errors)
            admin_client.remove_bucket(bucket_name=bucket)


@reaches(
    "MINIO_URL_CACHING_ENABLED",
    "MINIO_URL_CACHE_BACKEND",
    "MINIO_URL_CACHE_REDIS_URL",
    "MINIO_URL_CACHE_PREFIX",
    "MINIO_URL_CACHE_TIMEOUT",
)
def test_url_cache_keys_reach_the_cache(live_settings: dict[str, Any], redis_server: RedisServer, unique: str) -> None:
    client = redis.Redis.from_url(redis_server.url)

    def cached(**options: Any) -> list[int]:
        """The TTLs of the keys that one save() and url() leave in Redis under a prefix of their own."""
        prefix = f"{uuid.uuid4().hex[:8]}_"
        cache = {"MINIO_URL_CACHE_BACKEND": "redis", "MINIO_URL_CACHE_REDIS_URL": redis_server.url}
        storage = live_storage(**cache, MINIO_URL_CACHE_PREFIX=prefix, **options)
        storage.url(storage.save(f"{unique}/{prefix}.txt", ContentFile(b"c")))
        return sorted(client.ttl(key) for key in client.keys(prefix + "*"))

    try:
        assert cached() == []  # caching is off by default
        ttls = cached(MINIO_URL_CACHING_ENABLED=True, MINIO_URL_CACHE_TIMEOUT=1000)
        assert len(ttls) == 1 and 1000 - 10 <= ttls[0] <= 1000  # the object's version
    finally:
        client.close()


@reaches("MINIO_URL_CACHE_DJANGO_ALIAS")
def test_django_cache_alias_names_the_cache(live_settings: dict[str, Any], tmp_path: Path, unique: str) -> None:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "minio-urls": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)},
    }
    with override_settings(CACHES=caches):
        storage = live_storage(
            MINIO_URL_CACHING_ENABLED=True,
            MINIO_URL_CACHE_PREFIX=f"{unique}_",
            MINIO_URL_CACHE_DJANGO_ALIAS="minio-urls",
        )
        storage.url(storage.save(f"{unique}/d.txt", ContentFile(b"d")))
    assert len(list(tmp_path.glob("*.djcache"))) == 1  # the object's version, in that cache's directory


@reaches("MINIO_URL_CACHE_MAX_ENTRIES")
def test_lru_max_entries_bounds_the_cache(live_settings: dict[str, Any], unique: str) -> None:
    def entries(**options: Any) -> int:
        prefix = f"{uuid.uuid4().hex[:8]}_"  # a cache of its own
        storage = live_storage(
            MINIO_URL_CACHING_ENABLED=True, MINIO_URL_CACHE_BACKEND="lru", MINIO_URL_CACHE_PREFIX=prefix, **options
        )
        for index in range(3):
            storage.url(storage.save(f"{unique}/{prefix}{index}.txt", ContentFile(b"e")))
        cache = shared_cache(storage.settings).cache
        assert isinstance(cache, LRUCache)
        return len(cache)

    assert entries() == 3  # a version per object
    assert entries(MINIO_URL_CACHE_MAX_ENTRIES=2) == 2


@reaches("MINIO_KEY_PREFIX", "MINIO_OBJECT_PARAMETERS")
def test_key_prefix_and_object_parameters_reach_the_upload(
    live_settings: dict[str, Any], admin_client: Minio, unique: str
) -> None:
    parameters = {"CacheControl": "max-age=60", "Metadata": {"origin": "settings-table"}}
    storage = live_storage(MINIO_KEY_PREFIX=f"{unique}-p", MINIO_OBJECT_PARAMETERS=parameters)
    assert storage.save("a.txt", ContentFile(b"a")) == "a.txt"
    metadata = admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=f"{unique}-p/a.txt").metadata
    assert metadata is not None
    assert (metadata["Cache-Control"], metadata["X-Amz-Meta-Origin"]) == ("max-age=60", "settings-table")


@reaches("MINIO_PUBLIC_URL_BASE")
def test_public_url_base_reaches_public_urls() -> None:
    options = {"MINIO_PUBLIC_URL_BASE": "https://cdn.example.com/assets", "MINIO_KEY_PREFIX": "static"}
    with override_settings(STORAGES=two_aliases(**options)):
        assert storages["staticfiles"].url("css/a b.css") == "https://cdn.example.com/assets/static/css/a%20b.css"
        assert storages["default"].url("a.txt").startswith("http://minio:9000/auto-generated-bucket-media-files/")


# -- direct uploads -----------------------------------------------------------------------------------------------
def allow_anyone(request: HttpRequest) -> bool:
    return True


def ticket_status(**options: Any) -> int:
    """The status of the ticket view for an anonymous request for a 1-byte file (signing only, no server)."""
    with override_settings(STORAGES=two_aliases(MINIO_DIRECT_UPLOAD_PREFIX="staged/", **options)):
        spec = dump(FieldSpec("default", "media", max_size=10, min_size=1, content_types=()))
        body = json.dumps({"spec": spec, "name": "a.txt", "size": 1})
        request = RequestFactory().post("/uploads/ticket/", body, content_type="application/json")
        request.user = AnonymousUser()
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return views.ticket(request).status_code


@reaches("MINIO_DIRECT_UPLOAD_PERMISSION")
def test_the_permission_hook_reaches_the_ticket_view() -> None:
    assert ticket_status() == 403  # by default, a logged-in user only
    assert ticket_status(MINIO_DIRECT_UPLOAD_PERMISSION=f"{__name__}.allow_anyone") == 200


@reaches("MINIO_DIRECT_UPLOAD_PREFIX", "MINIO_DIRECT_UPLOAD_EXPIRY", "MINIO_CORS_ALLOWED_ORIGINS")
def test_direct_upload_keys_reach_the_staging_area_and_initialize_buckets() -> None:
    keys = {
        "MINIO_DIRECT_UPLOAD_PREFIX": "staged/",
        "MINIO_DIRECT_UPLOAD_EXPIRY": timedelta(minutes=30),
        "MINIO_CORS_ALLOWED_ORIGINS": ["https://app.example"],
        "MINIO_PRIVATE_BUCKETS": ["p-one"],
    }
    with override_settings(STORAGES=two_aliases(**keys)):
        staging = StagingArea.of("default", "p-one")
        key = staging.new_key()
        policy = json.loads(base64.b64decode(staging.post(key, max_size=5, content_type="text/plain").fields["policy"]))
        targets = {target.bucket: target for target in plan()}
    assert key.startswith("staged/") and staging.owns(key)
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert timedelta(minutes=29) < expires - datetime.now(tz=UTC) <= timedelta(minutes=30)
    assert (targets["p-one"].staging_prefixes, targets["p-one"].cors_origins) == (["staged/"], ["https://app.example"])
    assert targets[DEFAULT_STATIC_BUCKET].cors_origins == ["https://app.example"]  # the static alias's own buckets
