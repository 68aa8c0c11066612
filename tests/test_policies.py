"""Bucket policies and initialize_buckets: comparisons are pure, the rest runs against the live server."""

from __future__ import annotations

import base64
import copy
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings
from minio import Minio
from minio.error import S3Error

from django_minio_backend.alias_settings import get_settings, parse_options
from django_minio_backend.bucket_plan import managed_buckets, plan, targets_for
from django_minio_backend.bucket_setup import BucketReport, initialize_buckets
from django_minio_backend.connection import S3Connection
from django_minio_backend.lifecycle import ABORT_AFTER_DAYS, ABORT_RULE_ID
from django_minio_backend.policies import (
    get_policy,
    is_public_read_policy,
    normalized,
    public_read_policy,
    same_policy,
    set_policy,
)
from tests.counting import CountingPoolManager
from tests.faultproxy import Action, FaultProxy, Relay, RequestHead, Respond, s3_error
from tests.helpers import BASE, MEDIA, STATIC, drop_bucket, http_status, put_bytes
from tests.servers import S3Server


def hook_policy(bucket: str) -> dict[str, Any]:
    """Anonymous read of one prefix only: a typical hook, and not a policy of ours."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/shared/*"],
            }
        ],
    }


def previous_release_policy(bucket: str) -> dict[str, Any]:
    """The shape the previous release gave public buckets: listable, empty Sids, bare strings."""

    def allow(action: str, resource: str) -> dict[str, Any]:
        return {"Sid": "", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": action, "Resource": resource}

    whole = f"arn:aws:s3:::{bucket}"
    statements = [
        allow("s3:GetBucketLocation", whole),
        allow("s3:ListBucket", whole),
        allow("s3:GetObject", f"{whole}/*"),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


# -- pure ------------------------------------------------------------------------------------------
def test_same_policy_ignores_the_rewrites_servers_make() -> None:
    ours = public_read_policy("media")
    rewritten = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::media/*"}
        ],
    }
    assert same_policy(ours, rewritten)
    assert not same_policy(ours, public_read_policy("media", listing=True))
    assert not same_policy(ours, public_read_policy("other"))
    assert not same_policy(ours, None) and same_policy(None, None)


def test_statement_order_does_not_matter() -> None:
    listing = public_read_policy("media", listing=True)
    reordered = {**listing, "Statement": list(reversed(listing["Statement"]))}
    assert normalized(listing) == normalized(reordered)


def test_public_read_policies_are_recognised() -> None:
    assert is_public_read_policy(public_read_policy("media"), "media")
    assert is_public_read_policy(public_read_policy("media", listing=True), "media")
    assert is_public_read_policy(previous_release_policy("media"), "media")


@pytest.mark.parametrize(
    "policy",
    [
        hook_policy("media"),  # a prefix only: the user's own policy
        public_read_policy("other"),  # another bucket
        {"Version": "2012-10-17", "Statement": []},
        {
            **public_read_policy("media"),
            "Statement": [{**public_read_policy("media")["Statement"][0], "Effect": "Deny"}],
        },
        {
            **public_read_policy("media"),
            "Statement": [{**public_read_policy("media")["Statement"][0], "Action": ["s3:GetObject", "s3:PutObject"]}],
        },
        {
            **public_read_policy("media"),
            "Statement": [
                {**public_read_policy("media")["Statement"][0], "Principal": {"AWS": ["arn:aws:iam::1:root"]}}
            ],
        },
        {
            **public_read_policy("media"),
            "Statement": [
                {
                    **public_read_policy("media")["Statement"][0],
                    "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                }
            ],
        },
    ],
)
def test_other_policies_are_not_taken_for_ours(policy: dict[str, Any]) -> None:
    assert not is_public_read_policy(policy, "media")


def test_static_alias_manages_only_its_static_bucket() -> None:
    options = {
        **BASE,
        "MINIO_PRIVATE_BUCKETS": ["media-private"],
        "MINIO_DEFAULT_BUCKET": "media-private",
        "MINIO_STATIC_FILES_BUCKET": "static-files",
    }
    storages = {
        "default": {"BACKEND": MEDIA, "OPTIONS": options},
        "staticfiles": {"BACKEND": STATIC, "OPTIONS": options},
    }
    with override_settings(STORAGES=storages):
        assert managed_buckets("staticfiles", get_settings("staticfiles")) == ("static-files",)
        assert managed_buckets("default", get_settings("default")) == ("media-private",)
        targets = {target.bucket: target for target in plan()}
        assert set(targets) == {"media-private", "static-files"}
        assert targets["static-files"].public and targets["static-files"].aliases == ["staticfiles"]
        assert not targets["media-private"].public
        assert [target.bucket for target in plan(["staticfiles"])] == ["static-files"]


def test_aliases_sharing_a_server_share_buckets_and_a_conflict_stays_private() -> None:
    storages = {
        "default": {"BACKEND": MEDIA, "OPTIONS": {**BASE, "MINIO_PUBLIC_BUCKETS": ["shared"]}},
        "other": {"BACKEND": MEDIA, "OPTIONS": {**BASE, "MINIO_PRIVATE_BUCKETS": ["shared"]}},
        "elsewhere": {
            "BACKEND": MEDIA,
            "OPTIONS": {**BASE, "MINIO_ENDPOINT": "b:9000", "MINIO_PUBLIC_BUCKETS": ["shared"]},
        },
    }
    with override_settings(STORAGES=storages):
        shared = [target for target in plan() if target.bucket == "shared"]
    assert [target.aliases for target in shared] == [["default", "other"], ["elsewhere"]]
    assert shared[0].public_votes == {"default": True, "other": False}
    assert not shared[0].public and shared[0].wanted_policy is None
    assert shared[1].public


def test_a_hook_replaces_the_public_policy_and_a_hook_alone_does_not_manage() -> None:
    settings = parse_options(
        "default",
        {
            **BASE,
            "MINIO_PUBLIC_BUCKETS": ["pub"],
            "MINIO_POLICY_HOOKS": [("pub", hook_policy("pub")), ("elsewhere", hook_policy("elsewhere"))],
        },
    )
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": BASE}}):
        targets = {target.bucket: target for target in targets_for({"default": settings})}
    assert targets["pub"].managed and targets["pub"].wanted_policy == hook_policy("pub")
    assert not targets["elsewhere"].managed


def test_report_lines_name_bucket_aliases_and_state() -> None:
    settings = parse_options("default", {**BASE, "MINIO_PUBLIC_BUCKETS": ["pub"], "MINIO_BUCKET_LISTING": True})
    with override_settings(STORAGES={"default": {"BACKEND": MEDIA, "OPTIONS": BASE}}):
        (pub, default) = targets_for({"default": settings})
    assert BucketReport(pub, ["created", "public read policy set"]).describe() == (
        "pub [default]: created; public read policy set (public, listable)"
    )
    assert BucketReport(default).describe() == "auto-generated-bucket-media-files [default]: up to date (private)"
    assert BucketReport(default, error="boom").describe() == "auto-generated-bucket-media-files [default]: FAILED: boom"


# -- against the live server ----------------------------------------------------------------------
@pytest.fixture
def buckets(unique: str) -> dict[str, str]:
    return {"private": f"{unique}-priv", "public": f"{unique}-pub", "static": f"{unique}-static"}


def storages_for(
    live: dict[str, Any], counting_pool: CountingPoolManager, buckets: dict[str, str], **extra: Any
) -> dict[str, Any]:
    """One media alias and one static alias on the live server, with fresh bucket names."""
    storages = copy.deepcopy({alias: live[alias] for alias in ("default", "staticfiles")})
    storages["default"]["OPTIONS"].update(
        MINIO_PRIVATE_BUCKETS=[buckets["private"]],
        MINIO_PUBLIC_BUCKETS=[buckets["public"]],
        MINIO_DEFAULT_BUCKET=buckets["private"],
        MINIO_STATIC_FILES_BUCKET=buckets["static"],
        MINIO_HTTP_CLIENT=counting_pool,
        **extra,
    )
    storages["staticfiles"]["OPTIONS"].update(
        MINIO_STATIC_FILES_BUCKET=buckets["static"], MINIO_HTTP_CLIENT=counting_pool
    )
    return storages


def run(storages: dict[str, Any]) -> dict[str, BucketReport]:
    with override_settings(STORAGES=storages):
        reports = initialize_buckets(plan())
    return {report.target.bucket: report for report in reports}


def changes(counting_pool: CountingPoolManager) -> list[tuple[str, str]]:
    return [(method, url) for method, url in counting_pool.requests if method in ("PUT", "DELETE")]


@pytest.fixture
def cleanup(admin_client: Minio, buckets: dict[str, str]) -> Iterator[None]:
    yield
    for bucket in buckets.values():
        drop_bucket(admin_client, bucket)


@pytest.mark.usefixtures("cleanup")
def test_initialize_creates_buckets_sets_policies_and_is_idempotent(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    storages = storages_for(live_settings, counting_pool, buckets)
    first = run(storages)
    assert set(first) == set(buckets.values())
    assert all(report.error is None for report in first.values())
    assert first[buckets["private"]].actions == ["created", ADDED]
    assert first[buckets["public"]].actions == ["created", "public read policy set", ADDED]
    assert first[buckets["static"]].actions == ["created", "public read policy set", ADDED]
    assert first[buckets["static"]].target.aliases == ["staticfiles"]
    assert get_policy(admin_client, buckets["private"]) is None
    for bucket in buckets.values():
        put_bytes(admin_client, "a/b.txt", bucket=bucket)
    base = f"http://{s3_server.endpoint}"
    assert http_status(f"{base}/{buckets['public']}/a/b.txt") == 200
    assert http_status(f"{base}/{buckets['static']}/a/b.txt") == 200
    assert http_status(f"{base}/{buckets['private']}/a/b.txt") == 403
    assert http_status(f"{base}/{buckets['public']}?list-type=2") == 403  # readable, not listable

    counting_pool.reset()
    second = run(storages)
    assert [report.actions for report in second.values()] == [[], [], []]
    assert changes(counting_pool) == []  # a second run only looks


@pytest.mark.usefixtures("cleanup")
def test_static_alias_does_not_create_the_media_default_bucket(
    live_settings: dict[str, Any], admin_client: Minio, counting_pool: CountingPoolManager, buckets: dict[str, str]
) -> None:
    storages = storages_for(live_settings, counting_pool, buckets)
    with override_settings(STORAGES=storages):
        reports = initialize_buckets(plan(["staticfiles"]))
    assert [report.target.bucket for report in reports] == [buckets["static"]]
    assert admin_client.bucket_exists(bucket_name=buckets["static"])
    assert not admin_client.bucket_exists(bucket_name=buckets["private"])


@pytest.mark.usefixtures("cleanup")
def test_bucket_made_private_loses_the_public_policy(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    run(storages_for(live_settings, counting_pool, buckets))
    put_bytes(admin_client, "photo.jpg", bucket=buckets["public"])
    url = f"http://{s3_server.endpoint}/{buckets['public']}/photo.jpg"
    assert http_status(url) == 200
    switched = {"private": buckets["public"], "public": f"{buckets['private']}x", "static": buckets["static"]}
    report = run(storages_for(live_settings, counting_pool, switched))[buckets["public"]]
    assert report.actions == ["public policy removed"] and report.state == "private"
    assert get_policy(admin_client, buckets["public"]) is None
    assert http_status(url) == 403
    admin_client.remove_bucket(bucket_name=switched["public"])


@pytest.mark.usefixtures("cleanup")
def test_previous_release_policy_is_replaced_or_removed(
    live_settings: dict[str, Any], admin_client: Minio, counting_pool: CountingPoolManager, buckets: dict[str, str]
) -> None:
    for bucket in buckets.values():
        admin_client.make_bucket(bucket_name=bucket)
        set_policy(admin_client, bucket, previous_release_policy(bucket))
    reports = run(storages_for(live_settings, counting_pool, buckets))
    assert reports[buckets["private"]].actions == ["public policy removed", ADDED]
    assert reports[buckets["public"]].actions == ["public read policy set", ADDED]  # no longer listable
    assert get_policy(admin_client, buckets["private"]) is None
    assert same_policy(get_policy(admin_client, buckets["public"]), public_read_policy(buckets["public"]))


@pytest.mark.usefixtures("cleanup")
def test_a_users_own_policy_on_a_private_bucket_is_left_alone(
    live_settings: dict[str, Any], admin_client: Minio, counting_pool: CountingPoolManager, buckets: dict[str, str]
) -> None:
    admin_client.make_bucket(bucket_name=buckets["private"])
    set_policy(admin_client, buckets["private"], hook_policy(buckets["private"]))
    report = run(storages_for(live_settings, counting_pool, buckets))[buckets["private"]]
    assert report.actions == [ADDED]
    assert same_policy(get_policy(admin_client, buckets["private"]), hook_policy(buckets["private"]))


@pytest.mark.usefixtures("cleanup")
def test_bucket_listing_setting_makes_public_buckets_listable(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    listing = f"http://{s3_server.endpoint}/{buckets['public']}?list-type=2"
    reports = run(storages_for(live_settings, counting_pool, buckets, MINIO_BUCKET_LISTING=True))
    assert reports[buckets["public"]].state == "public, listable"
    assert http_status(listing) == 200
    assert http_status(f"http://{s3_server.endpoint}/{buckets['private']}?list-type=2") == 403
    assert (
        http_status(f"http://{s3_server.endpoint}/{buckets['static']}?list-type=2") == 403
    )  # the static alias's own setting
    run(storages_for(live_settings, counting_pool, buckets))
    assert http_status(listing) == 403


@pytest.mark.usefixtures("cleanup")
def test_hooks_are_applied_once_each_after_their_bucket_exists(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    hooks = [(buckets["private"], hook_policy(buckets["private"])), (buckets["public"], hook_policy(buckets["public"]))]
    storages = storages_for(live_settings, counting_pool, buckets, MINIO_POLICY_HOOKS=hooks)
    reports = run(storages)
    assert reports[buckets["private"]].actions == ["created", "policy hook applied", ADDED]
    assert reports[buckets["public"]].actions == ["created", "policy hook applied", ADDED]  # the hook replaces ours
    policy_puts = [url for method, url in changes(counting_pool) if method == "PUT" and url.endswith("?policy=")]
    assert len(policy_puts) == 3  # two hooks and the static bucket, each once
    for bucket, policy in hooks:
        assert same_policy(get_policy(admin_client, bucket), policy)
        put_bytes(admin_client, "shared/doc.txt", bucket=bucket)
        put_bytes(admin_client, "secret.txt", bucket=bucket)
        assert http_status(f"http://{s3_server.endpoint}/{bucket}/shared/doc.txt") == 200
        assert http_status(f"http://{s3_server.endpoint}/{bucket}/secret.txt") == 403
    counting_pool.reset()
    assert all(report.actions == [] for report in run(storages).values())
    assert changes(counting_pool) == []


@pytest.mark.usefixtures("cleanup")
def test_hook_on_a_missing_unmanaged_bucket_fails_without_stopping_the_others(
    live_settings: dict[str, Any],
    admin_client: Minio,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
    unique: str,
) -> None:
    stray = f"{unique}-stray"
    reports = run(storages_for(live_settings, counting_pool, buckets, MINIO_POLICY_HOOKS=[(stray, hook_policy(stray))]))
    assert "does not exist" in (reports[stray].error or "")
    assert not admin_client.bucket_exists(bucket_name=stray)
    assert all(reports[bucket].error is None for bucket in buckets.values())


def test_malformed_hook_policies_compare_without_crashing() -> None:
    """manage.py check compares hook policies; a malformed one must be reported, not crash it."""
    odd = {"Version": "2012-10-17", "Statement": ["not a statement", {"Action": {"s3:GetObject"}}]}
    assert same_policy(odd, odd)
    assert not same_policy(odd, public_read_policy("media"))


# -- the lifecycle rule aborting incomplete multipart uploads (live server) ------------------------------
LIFECYCLE_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
# A user's rules, including elements that a model-based client (minio-py 7.2) does not know and would drop
# when writing the rules back: the size condition, and the number of noncurrent versions kept.
USER_RULES = (
    '<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    "<Rule><ID>expire-big-logs</ID><Filter><And><Prefix>logs/</Prefix>"
    "<ObjectSizeGreaterThan>1048576</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status>"
    "<Expiration><Days>30</Days></Expiration></Rule>"
    "<Rule><ID>old-versions</ID><Filter><Prefix>v/</Prefix></Filter><Status>Disabled</Status>"
    "<NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays>"
    "<NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>"
    "</LifecycleConfiguration>"
)


def connection(s3_server: S3Server) -> S3Connection:
    options = {"MINIO_ENDPOINT": s3_server.endpoint, "MINIO_ACCESS_KEY": s3_server.access_key}
    return S3Connection(parse_options("default", {**options, "MINIO_SECRET_KEY": s3_server.secret_key}))


def put_config(s3_server: S3Server, bucket: str, kind: str, document: str) -> None:
    """Write a bucket's `kind` configuration (lifecycle, cors) as another tool would, past our code."""
    body = document.encode()
    headers = {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}
    connection(s3_server).request(
        "PUT", bucket, query=[(kind, "")], headers=headers, body=body, payload_sha256=sha256(body)
    )


def put_lifecycle(s3_server: S3Server, bucket: str, document: str) -> None:
    put_config(s3_server, bucket, "lifecycle", document)


def rules(s3_server: S3Server, bucket: str) -> dict[str, str]:
    """The bucket's lifecycle rules by ID, each as its canonical XML (namespace and child order aside)."""
    try:
        response = connection(s3_server).request("GET", bucket, query=[("lifecycle", "")], payload_sha256=sha256(b""))
    except S3Error as error:
        assert error.code == "NoSuchLifecycleConfiguration"
        return {}

    def canonical(element: ET.Element) -> str:
        children = sorted(canonical(child) for child in element)
        return f"<{element.tag.rsplit('}', 1)[-1]}>{(element.text or '').strip()}{''.join(children)}</>"

    found = ET.fromstring(response.data).findall(f"{{{LIFECYCLE_NS}}}Rule")
    return {rule.findtext(f"{{{LIFECYCLE_NS}}}ID") or "": canonical(rule) for rule in found}


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


OUR_RULE = (
    f"<Rule><AbortIncompleteMultipartUpload><DaysAfterInitiation>{ABORT_AFTER_DAYS}</></>"
    f"<Filter><Prefix></></><ID>{ABORT_RULE_ID}</><Status>Enabled</></>"
)
ADDED = f"lifecycle rule added (incomplete multipart uploads aborted after {ABORT_AFTER_DAYS} day)"


@pytest.mark.usefixtures("cleanup")
def test_initialize_adds_the_abort_rule_keeps_the_users_rules_and_is_idempotent(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    admin_client.make_bucket(bucket_name=buckets["private"])
    put_lifecycle(s3_server, buckets["private"], USER_RULES)
    users = rules(s3_server, buckets["private"])
    assert set(users) == {"expire-big-logs", "old-versions"} and "ObjectSizeGreaterThan" in users["expire-big-logs"]

    storages = storages_for(live_settings, counting_pool, buckets)
    first = run(storages)
    assert first[buckets["private"]].actions == [ADDED]
    assert first[buckets["public"]].actions == ["created", "public read policy set", ADDED]
    assert rules(s3_server, buckets["private"]) == {**users, ABORT_RULE_ID: OUR_RULE}  # the user's, untouched
    assert rules(s3_server, buckets["public"]) == {ABORT_RULE_ID: OUR_RULE}
    assert rules(s3_server, buckets["static"]) == {ABORT_RULE_ID: OUR_RULE}

    counting_pool.reset()
    second = run(storages)
    assert [report.actions for report in second.values()] == [[], [], []]
    assert changes(counting_pool) == []
    assert rules(s3_server, buckets["private"]) == {**users, ABORT_RULE_ID: OUR_RULE}


@pytest.mark.usefixtures("cleanup")
def test_a_changed_abort_rule_of_ours_is_put_back(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    admin_client.make_bucket(bucket_name=buckets["private"])
    edited = USER_RULES.replace(
        "</LifecycleConfiguration>",
        f"<Rule><ID>{ABORT_RULE_ID}</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Disabled</Status>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>9</DaysAfterInitiation></AbortIncompleteMultipartUpload>"
        "</Rule></LifecycleConfiguration>",
    )
    put_lifecycle(s3_server, buckets["private"], edited)
    report = run(storages_for(live_settings, counting_pool, buckets))[buckets["private"]]
    assert report.actions == [ADDED.replace("added", "updated")]
    found = rules(s3_server, buckets["private"])
    assert set(found) == {"expire-big-logs", "old-versions", ABORT_RULE_ID} and found[ABORT_RULE_ID] == OUR_RULE


@pytest.mark.usefixtures("cleanup")
def test_a_users_own_rule_aborting_uploads_is_left_to_decide(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    admin_client.make_bucket(bucket_name=buckets["private"])
    own = (
        f'<LifecycleConfiguration xmlns="{LIFECYCLE_NS}"><Rule><ID>keep-uploads-a-week</ID><Filter></Filter>'
        "<Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>"
    )
    put_lifecycle(s3_server, buckets["private"], own)
    before = rules(s3_server, buckets["private"])
    report = run(storages_for(live_settings, counting_pool, buckets))[buckets["private"]]
    assert report.actions == [] and report.error is None
    assert rules(s3_server, buckets["private"]) == before


def lifecycle_answered(response: Respond) -> Callable[[RequestHead], Action]:
    """Requests on a bucket's lifecycle get `response`; everything else reaches the server."""
    return lambda head: response if "lifecycle" in head.target else Relay()


@pytest.mark.usefixtures("cleanup")
def test_a_server_without_lifecycle_rules_is_reported_not_failed(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    with FaultProxy(
        s3_server.endpoint, lifecycle_answered(s3_error(501, "Not Implemented", "NotImplemented"))
    ) as proxy:
        storages = storages_for(live_settings, counting_pool, buckets)
        for alias in ("default", "staticfiles"):
            storages[alias]["OPTIONS"]["MINIO_ENDPOINT"] = proxy.endpoint
        reports = run(storages)
    private = reports[buckets["private"]]
    assert private.error is None and private.actions == ["created"]
    assert private.notes == ["lifecycle rule not set, the server refuses it (NotImplemented)"]
    assert private.describe().endswith("(private); lifecycle rule not set, the server refuses it (NotImplemented)")
    assert all(report.error is None for report in reports.values())
    assert admin_client.bucket_exists(bucket_name=buckets["public"])
    assert not [head for head in proxy.requests if head.method == "PUT" and "lifecycle" in head.target]


@pytest.mark.usefixtures("cleanup")
def test_rules_that_cannot_be_read_are_never_overwritten(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    admin_client.make_bucket(bucket_name=buckets["private"])
    put_lifecycle(s3_server, buckets["private"], USER_RULES)
    users = rules(s3_server, buckets["private"])
    with FaultProxy(
        s3_server.endpoint, lifecycle_answered(s3_error(400, "Bad Request", "InvalidBucketState"))
    ) as proxy:
        storages = storages_for(live_settings, counting_pool, buckets)
        storages["default"]["OPTIONS"]["MINIO_ENDPOINT"] = proxy.endpoint
        report = run(storages)[buckets["private"]]
    assert "InvalidBucketState" in (report.error or "")
    assert not [head for head in proxy.requests if head.method == "PUT" and "lifecycle" in head.target]
    assert rules(s3_server, buckets["private"]) == users


# -- dry runs: the same comparison, nothing written (live server) ------------------------------------------
def dry_run(storages: dict[str, Any]) -> dict[str, BucketReport]:
    with override_settings(STORAGES=storages):
        reports = initialize_buckets(plan(), dry_run=True)
    return {report.target.bucket: report for report in reports}


def only_reads(counting_pool: CountingPoolManager) -> bool:
    return {method for method, _ in counting_pool.requests} <= {"GET", "HEAD"}


@pytest.mark.usefixtures("cleanup")
def test_dry_run_of_missing_buckets_lists_every_change_and_makes_none(
    live_settings: dict[str, Any],
    admin_client: Minio,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    storages = storages_for(live_settings, counting_pool, buckets)
    planned = dry_run(storages)
    assert counting_pool.count() > 0 and only_reads(counting_pool)
    assert not any(admin_client.bucket_exists(bucket_name=bucket) for bucket in buckets.values())
    public = planned[buckets["public"]]
    assert [change.planned for change in public.planned] == [
        "create",
        "set public read policy",
        f"add lifecycle rule (incomplete multipart uploads aborted after {ABORT_AFTER_DAYS} day)",
    ]
    assert public.actions == [] and public.differs
    statement = f'"Resource": ["arn:aws:s3:::{buckets["public"]}/*"]'
    assert public.describe().splitlines() == [
        f"{buckets['public']} [default]: would create; would set public read policy; would add lifecycle rule "
        f"(incomplete multipart uploads aborted after {ABORT_AFTER_DAYS} day) (public)",
        f'    policy + {{"Action": ["s3:GetObject"], "Effect": "Allow", "Principal": {{"AWS": ["*"]}}, {statement}}}',
    ]
    assert [change.planned for change in planned[buckets["private"]].planned][:1] == ["create"]

    real = run(storages)  # what the dry run promised is what a run does
    assert {bucket: [change.done for change in report.planned] for bucket, report in planned.items()} == {
        bucket: report.actions for bucket, report in real.items()
    }
    counting_pool.reset()
    again = dry_run(storages)
    assert not any(report.differs for report in again.values()) and only_reads(counting_pool)


@pytest.mark.usefixtures("cleanup")
def test_dry_run_of_drifted_buckets_shows_the_policy_diff_and_the_missing_rule(
    live_settings: dict[str, Any],
    admin_client: Minio,
    s3_server: S3Server,
    counting_pool: CountingPoolManager,
    buckets: dict[str, str],
) -> None:
    storages = storages_for(live_settings, counting_pool, buckets)
    run(storages)
    listable = public_read_policy(buckets["public"], listing=True)
    set_policy(admin_client, buckets["public"], listable)  # someone made it listable by hand
    set_policy(admin_client, buckets["private"], public_read_policy(buckets["private"]))  # and this one public
    connection(s3_server).request("DELETE", buckets["static"], query=[("lifecycle", "")], payload_sha256=sha256(b""))
    counting_pool.reset()
    planned = dry_run(storages)
    assert only_reads(counting_pool)
    assert planned[buckets["public"]].describe().splitlines() == [
        f"{buckets['public']} [default]: would set public read policy (public)",
        '    policy - {"Action": ["s3:ListBucket"], "Effect": "Allow", "Principal": {"AWS": ["*"]}, '
        f'"Resource": ["arn:aws:s3:::{buckets["public"]}"]}}',
    ]
    private = planned[buckets["private"]]
    assert [change.planned for change in private.planned] == ["remove public policy"]
    assert [line[:9] for line in private.planned[0].details] == ["policy - "]
    assert [change.planned for change in planned[buckets["static"]].planned] == [
        f"add lifecycle rule (incomplete multipart uploads aborted after {ABORT_AFTER_DAYS} day)"
    ]
    assert same_policy(get_policy(admin_client, buckets["public"]), listable)  # nothing was changed
    assert same_policy(get_policy(admin_client, buckets["private"]), public_read_policy(buckets["private"]))
    assert rules(s3_server, buckets["static"]) == {}
