"""System checks: each misconfiguration gets its stable id, and `manage.py check` reports instead of crashing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_minio_backend.checks import check_minio_deploy, check_minio_settings
from tests.credentials import static_provider
from tests.helpers import BASE, MEDIA, STATIC

ROOT = Path(__file__).resolve().parents[1]


def run_checks(*, deploy: bool) -> str:
    """The ids of every message Django's registered checks give, as `manage.py check [--deploy]` runs them."""
    return " ".join(message.id or "" for message in checks.run_checks(include_deployment_checks=deploy))


def ids_for(**options: Any) -> list[str]:
    """The check ids reported for one media alias with these OPTIONS on top of BASE."""
    storages = {"default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, **options}}}
    with override_settings(STORAGES=storages):
        return [message.id or "" for message in check_minio_settings()]


def test_valid_settings_pass() -> None:
    assert ids_for(MINIO_PRIVATE_BUCKETS=["media-private"], MINIO_PUBLIC_BUCKETS=["media-public"]) == []


def test_the_test_projects_own_settings_pass(live_settings: dict[str, Any]) -> None:
    assert check_minio_settings() == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"MINIO_PRIVATE_BUCKETS": ["both"], "MINIO_PUBLIC_BUCKETS": ["both"]}, "E001"),
        ({"MINIO_PRIVATE_BUCKETS": ["Upper_Case"]}, "E002"),
        ({"MINIO_PUBLIC_BUCKETS": ["ab"]}, "E002"),
        ({"MINIO_DEFAULT_BUCKET": "192.168.1.1"}, "E002"),
        ({"MINIO_STATIC_FILES_BUCKET": "static..files"}, "E002"),
        ({"MINIO_POLICY_HOOKS": [("-hooked", {})]}, "E002 W001"),  # and no alias manages it
        ({"MINIO_URL_EXPIRY_HOURS": timedelta(days=8)}, "E003"),
        ({"MINIO_MULTIPART_PART_SIZE": 4 * 1024 * 1024}, "E004"),
        ({"MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": True}, "E005"),
        ({"MINIO_URL_CACHING_ENABLED": True, "MINIO_URL_CACHE_BACKEND": "redis"}, "E006"),
        (
            {
                "MINIO_URL_CACHING_ENABLED": True,
                "MINIO_URL_CACHE_BACKEND": "redis",
                "MINIO_URL_CACHE_REDIS_URL": "localhost:6379",
            },
            "E006",
        ),
        ({"MINIO_URL_CACHING_ENABLED": True, "MINIO_URL_CACHE_DJANGO_ALIAS": "nowhere"}, "E008"),
        ({"MINIO_URL_CACHING_ENABLED": True, "MINIO_URL_CACHE_BACKEND": "memcache"}, "E009"),
        ({"MINIO_URL_CACHING_ENABLED": True, "MINIO_URL_CACHE_BACKEND": "no.such.Module"}, "E009"),
        ({"MINIO_URL_CACHING_ENABLED": True, "MINIO_URL_CACHE_BACKEND": "django_minio_backend.checks.PREFIX"}, "E009"),
        ({"MINIO_ACCESS_KEY": 1}, "E013"),
        ({"MINIO_ACCESS_KEY": None}, "E010"),  # None is not given: required without a provider
        ({"MINIO_CREDENTIALS_PROVIDER": "tests.credentials.static_provider"}, "E015"),  # and the keys of BASE
        ({"MINIO_CREDENTIALS_PROVIDER": "tests.credentials.nowhere", "MINIO_ACCESS_KEY": None}, "E016"),
        ({"MINIO_CREDENTIALS_PROVIDER": "tests.servers.ACCESS_KEY", "MINIO_ACCESS_KEY": None}, "E016"),  # a str
        ({"MINIO_CREDENTIALS_PROVIDER": 42}, "E016"),
        ({"MINIO_URL_STABLE_WINDOW": timedelta(days=7)}, "E017"),  # not shorter than the 7-day expiry
        ({"MINIO_URL_STABLE_WINDOW": -1}, "E017"),
        ({"MINIO_URL_STABLE_WINDOW": 0.5}, "E013"),
        ({"MINIO_ENDPOINT": "https://minio:9000"}, "E012"),
        ({"MINIO_ENDPONT": "typo:9000"}, "E011"),
        ({"MINIO_USE_HTTPS": "yes"}, "E013"),
        ({"MINIO_UPLOAD_WORKERS": 0}, "E013"),
    ],
)
def test_each_misconfiguration_has_its_id(options: dict[str, Any], expected: str) -> None:
    assert ids_for(**options) == [f"django_minio_backend.{code}" for code in expected.split()]


def test_missing_required_setting_is_e010() -> None:
    storages = {"default": {"BACKEND": MEDIA, "OPTIONS": {"MINIO_ENDPOINT": "minio:9000"}}}
    with override_settings(STORAGES=storages):
        (message,) = check_minio_settings()
    assert message.id == "django_minio_backend.E010"
    assert (
        message.msg
        == "STORAGES['default']['OPTIONS']['MINIO_ACCESS_KEY'] is required (or give MINIO_CREDENTIALS_PROVIDER)"
    )
    assert message.obj == "STORAGES['default']"


def test_keys_next_to_a_provider_are_an_error_naming_them() -> None:
    provider = "tests.credentials.static_provider"
    storages = {"default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, "MINIO_CREDENTIALS_PROVIDER": provider}}}
    with override_settings(STORAGES=storages):
        (message,) = check_minio_settings()
    assert message.id == "django_minio_backend.E015"
    assert "MINIO_ACCESS_KEY and MINIO_SECRET_KEY" in message.msg and "MINIO_CREDENTIALS_PROVIDER" in message.msg
    keys = {"MINIO_ACCESS_KEY": None, "MINIO_SECRET_KEY": None}
    assert ids_for(**keys, MINIO_CREDENTIALS_PROVIDER=provider) == []


def deploy_ids_for(**options: Any) -> list[str]:
    """The ids `manage.py check --deploy` adds for one media alias with these OPTIONS on top of BASE."""
    storages = {"default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, **options}}}
    with override_settings(STORAGES=storages):
        return [message.id or "" for message in check_minio_deploy()]


def test_deploy_warns_of_long_lived_urls_without_a_stable_window() -> None:
    assert deploy_ids_for() == []  # the default window
    assert deploy_ids_for(MINIO_URL_STABLE_WINDOW=0) == ["django_minio_backend.W103"]  # 7-day URLs, new every time
    assert deploy_ids_for(MINIO_URL_STABLE_WINDOW=0, MINIO_URL_EXPIRY_HOURS=timedelta(hours=24)) == []
    public_only = {"MINIO_PUBLIC_BUCKETS": ["pub"], "MINIO_DEFAULT_BUCKET": "pub"}
    assert deploy_ids_for(MINIO_URL_STABLE_WINDOW=0, **public_only) == []  # no presigned URLs at all
    static = {"staticfiles": {"BACKEND": STATIC, "OPTIONS": {**BASE, "MINIO_URL_STABLE_WINDOW": 0}}}
    with override_settings(STORAGES=static):
        assert check_minio_deploy() == []  # the static bucket is public


def test_deploy_warns_of_a_provider_instance() -> None:
    keys = {"MINIO_ACCESS_KEY": None, "MINIO_SECRET_KEY": None}
    assert deploy_ids_for(**keys, MINIO_CREDENTIALS_PROVIDER="tests.credentials.static_provider") == []
    instance = static_provider()
    assert deploy_ids_for(**keys, MINIO_CREDENTIALS_PROVIDER=instance) == ["django_minio_backend.W104"]


def test_deploy_checks_run_with_deploy_only() -> None:
    storages = {"default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, "MINIO_URL_STABLE_WINDOW": 0}}}
    with override_settings(STORAGES=storages):
        assert "W103" not in run_checks(deploy=False)
        assert "django_minio_backend.W103" in run_checks(deploy=True)


def test_cache_backend_is_checked_only_when_caching_is_enabled() -> None:
    assert ids_for(MINIO_URL_CACHE_BACKEND="redis") == []


def test_redis_cache_with_a_url_passes() -> None:
    assert (
        ids_for(
            MINIO_URL_CACHING_ENABLED=True, MINIO_URL_CACHE_BACKEND="redis", MINIO_URL_CACHE_REDIS_URL="redis://r/0"
        )
        == []
    )


def test_redis_not_installed_is_e007(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide redis-py the way Python itself reports a missing package: a None entry in sys.modules."""
    monkeypatch.setitem(sys.modules, "redis", None)
    ids = ids_for(
        MINIO_URL_CACHING_ENABLED=True, MINIO_URL_CACHE_BACKEND="redis", MINIO_URL_CACHE_REDIS_URL="redis://r/0"
    )
    assert ids == ["django_minio_backend.E007"]


def test_unmanaged_hook_buckets_and_conflicts_between_aliases_are_warnings() -> None:
    policy = {"Version": "2012-10-17", "Statement": []}
    other = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}],
    }
    storages = {
        "default": {
            "BACKEND": MEDIA,
            "OPTIONS": {
                **BASE,
                "MINIO_PUBLIC_BUCKETS": ["shared"],
                "MINIO_POLICY_HOOKS": [("shared", policy), ("stray", policy)],
            },
        },
        "other": {
            "BACKEND": MEDIA,
            "OPTIONS": {
                **BASE,
                "MINIO_PRIVATE_BUCKETS": ["shared", "static"],
                "MINIO_STATIC_FILES_BUCKET": "static",
                "MINIO_POLICY_HOOKS": [("shared", other)],
            },
        },
    }
    with override_settings(STORAGES=storages):
        found = {(message.id, str(message.obj)) for message in check_minio_settings()}
    assert found == {
        ("django_minio_backend.W001", "STORAGES['default']"),
        ("django_minio_backend.W002", "STORAGES['default'], STORAGES['other']"),
        ("django_minio_backend.W003", "STORAGES['default'], STORAGES['other']"),
        ("django_minio_backend.W004", "STORAGES['other']"),
    }


def test_identical_hooks_in_shared_options_do_not_warn() -> None:
    """Projects often spread one MINIO dict into both aliases; the same hook twice is no conflict."""
    options = {**BASE, "MINIO_PUBLIC_BUCKETS": ["pub"], "MINIO_POLICY_HOOKS": [("pub", {"Version": "2012-10-17"})]}
    storages = {
        "default": {"BACKEND": MEDIA, "OPTIONS": options},
        "staticfiles": {"BACKEND": STATIC, "OPTIONS": options},
    }
    with override_settings(STORAGES=storages):
        assert check_minio_settings() == []


def test_other_backends_are_not_checked() -> None:
    storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": "/x"}}}
    with override_settings(STORAGES=storages):
        assert check_minio_settings() == []


def test_check_command_reports_the_ids(live_settings: dict[str, Any]) -> None:
    call_command("check", verbosity=0)  # the test project passes
    storages = {"default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, "MINIO_URL_EXPIRY_HOURS": timedelta(0)}}}
    with override_settings(STORAGES=storages), pytest.raises(SystemCheckError, match=r"django_minio_backend\.E003"):
        call_command("check", verbosity=0)


BAD_SETTINGS = """
    from datetime import timedelta
    from tests.settings import *  # noqa: F403

    STORAGES = {
        "default": {
            "BACKEND": "django_minio_backend.models.MinioBackend",
            "OPTIONS": {
                "MINIO_ENDPOINT": "127.0.0.1:9",
                "MINIO_ACCESS_KEY": "ak",
                "MINIO_SECRET_KEY": "sk",
                "MINIO_URL_EXPIRY_HOURS": timedelta(days=30),
                "MINIO_PRIVATE_BUCKETS": ["Bad_Name"],
            },
        },
    }
"""


def run_django(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "bad_settings.py").write_text(textwrap.dedent(BAD_SETTINGS))
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}", "DJANGO_SETTINGS_MODULE": "bad_settings"}
    return subprocess.run(
        [sys.executable, "-m", "django", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_manage_py_check_lists_problems_with_ids_instead_of_crashing(tmp_path: Path) -> None:
    result = run_django(tmp_path, "check")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "(django_minio_backend.E003) STORAGES['default']['OPTIONS']['MINIO_URL_EXPIRY_HOURS']" in result.stderr


def test_other_commands_fail_at_start_up_naming_key_and_id(tmp_path: Path) -> None:
    result = run_django(tmp_path, "showmigrations", "testapp")
    assert result.returncode != 0
    assert "ImproperlyConfigured: STORAGES['default']['OPTIONS']['MINIO_URL_EXPIRY_HOURS']" in result.stderr
    assert "[django_minio_backend.E003]" in result.stderr


# -- deploy checks -----------------------------------------------------------------------------------------------
def deploy_ids(storages: dict[str, Any], **django_settings: Any) -> list[str]:
    with override_settings(STORAGES=storages, **django_settings):
        return [message.id or "" for message in check_minio_deploy()]


def media(**options: Any) -> dict[str, Any]:
    return {"default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, **options}}}


W101, W102 = "django_minio_backend.W101", "django_minio_backend.W102"
EXTERNAL = {"MINIO_EXTERNAL_ENDPOINT": "files.example.com"}


@pytest.mark.parametrize(
    ("options", "ssl_redirect", "expected"),
    [
        ({}, True, [W101]),  # URLs use MINIO_ENDPOINT over http
        (EXTERNAL, True, [W101]),
        ({**EXTERNAL, "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": True}, True, []),
        ({"MINIO_USE_HTTPS": True}, True, []),  # no external endpoint: it is MINIO_ENDPOINT, over https
        ({**EXTERNAL, "MINIO_USE_HTTPS": True, "MINIO_EXTERNAL_ENDPOINT_USE_HTTPS": False}, True, [W101]),
        (EXTERNAL, False, []),
    ],
)
def test_plain_http_urls_on_a_site_redirecting_to_https_are_w101(
    options: dict[str, Any], ssl_redirect: bool, expected: list[str]
) -> None:
    assert deploy_ids(media(**options), SECURE_SSL_REDIRECT=ssl_redirect) == expected


def test_w101_names_the_alias_and_the_url_users_get() -> None:
    with override_settings(STORAGES=media(**EXTERNAL), SECURE_SSL_REDIRECT=True):
        (message,) = check_minio_deploy()
    assert message.obj == "STORAGES['default']" and "http://files.example.com/" in message.msg


def test_public_buckets_anyone_can_list_are_w102() -> None:
    hook = {"Version": "2012-10-17", "Statement": []}
    listing = {"MINIO_BUCKET_LISTING": True}
    assert deploy_ids(media(MINIO_PUBLIC_BUCKETS=["pub"], **listing)) == [W102]
    assert deploy_ids(media(MINIO_PUBLIC_BUCKETS=["pub"])) == []
    assert deploy_ids(media(MINIO_PRIVATE_BUCKETS=["priv"], MINIO_DEFAULT_BUCKET="priv", **listing)) == []
    assert deploy_ids(media(MINIO_PUBLIC_BUCKETS=["pub"], MINIO_POLICY_HOOKS=[("pub", hook)], **listing)) == []
    static = {"staticfiles": {"BACKEND": STATIC, "OPTIONS": {**BASE, **listing}}}
    with override_settings(STORAGES=static):
        (message,) = check_minio_deploy()
    assert message.id == W102 and message.obj == "STORAGES['staticfiles']"
    assert "'auto-generated-bucket-static-files'" in message.msg


def test_deploy_checks_run_only_with_check_deploy_and_skip_aliases_that_do_not_parse() -> None:
    storages = {
        **media(MINIO_PUBLIC_BUCKETS=["pub"], MINIO_BUCKET_LISTING=True),
        "broken": {"BACKEND": MEDIA, "OPTIONS": {"MINIO_ENDPOINT": "minio:9000"}},
    }
    with override_settings(STORAGES=storages, SECURE_SSL_REDIRECT=True):
        with pytest.raises(SystemCheckError) as info:
            call_command("check", "--deploy", "--fail-level", "WARNING", verbosity=0)
        assert W101 in str(info.value) and W102 in str(info.value)
        assert "django_minio_backend.E010" in str(info.value)  # the broken alias, from the usual checks
        with pytest.raises(SystemCheckError) as info:
            call_command("check", "--fail-level", "WARNING", verbosity=0)
        assert W101 not in str(info.value) and W102 not in str(info.value)
