"""Direct uploads without a browser: the views, the signed tokens, the field's checks and the move to the final
name, against the real server (the browser itself: test_browser_uploads.py)."""

from __future__ import annotations

import copy
import io
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, cast
from unittest import mock

import pytest
import urllib3
from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.http import HttpRequest
from django.test import Client, override_settings
from minio import Minio

from django_minio_backend import MinioBackend
from django_minio_backend.direct import DirectUploadField, StagedUpload
from django_minio_backend.direct.moving import move_staged
from django_minio_backend.direct.staging import StagingArea
from django_minio_backend.direct.tokens import Staged, TamperedToken, Ticket, dump, load
from examples.direct_upload.forms import UploadForm
from examples.direct_upload.models import Upload
from tests.helpers import PART, open_uploads, post_form, private_storage, put_bytes, stored_bytes, stored_names
from tests.settings import PRIVATE_BUCKET

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
POOL = urllib3.PoolManager(retries=False)
TICKET = "/uploads/ticket/"


@pytest.fixture
def direct(live_settings: dict[str, Any], unique: str) -> Iterator[str]:
    """Direct uploads into the default alias, staged under a prefix of this test's own (yielded), parts of 5 MiB."""
    storages = copy.deepcopy(live_settings)
    prefix = f"{unique}-staged/"
    storages["default"]["OPTIONS"].update(
        MINIO_DIRECT_UPLOAD_PREFIX=prefix, MINIO_MULTIPART_THRESHOLD=PART, MINIO_MULTIPART_PART_SIZE=PART
    )
    with override_settings(STORAGES=storages):
        yield prefix


@pytest.fixture
def user() -> User:
    return User.objects.create_user(username=f"u{uuid.uuid4().hex[:8]}", password="pw")


@pytest.fixture
def browser(client: Client, user: User) -> Client:
    """A logged-in session (CSRF checks off: Django's test client; see the CSRF test for them on)."""
    client.force_login(user)
    return client


def field_of(form: forms.BaseForm, name: str = "file") -> DirectUploadField:
    field = form.fields[name]
    assert isinstance(field, DirectUploadField)
    return field


def spec(form_class: type[forms.BaseForm] = UploadForm) -> str:
    return dump(field_of(form_class()).spec())


def call(client: Client, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post(url, json.dumps(body), content_type="application/json")
    return response.status_code, json.loads(response.content)


def post_upload(client: Client, data: bytes, name: str = "hello.txt") -> str:
    """Upload through a ticket's form POST; the staged token."""
    status, ticket = call(client, TICKET, {"spec": spec(), "name": name, "size": len(data)})
    assert (status, ticket["mode"]) == (200, "post"), ticket
    assert post_form(ticket["url"], ticket["fields"], data).status == 204
    return str(ticket["token"])


def parts_upload(client: Client, data: bytes, name: str = "big.bin") -> dict[str, Any]:
    """Start a multipart upload through the views and send every part; the ticket answer."""
    status, ticket = call(client, TICKET, {"spec": spec(), "name": name, "size": len(data)})
    assert (status, ticket["mode"], ticket["part_size"]) == (200, "parts", PART), ticket
    numbers = list(range(1, ticket["parts"] + 1))
    status, answer = call(client, "/uploads/parts/", {"ticket": ticket["ticket"], "numbers": numbers})
    assert status == 200, answer
    for number in numbers:
        chunk = data[(number - 1) * PART : number * PART]
        assert POOL.request("PUT", answer["urls"][str(number)], body=chunk).status == 200
    return ticket


def save_form(token: str, title: str = "t") -> str:
    """Submit the example form with a staged token; the name the file was saved under."""
    form = UploadForm(data={"title": title, "file": token})
    assert form.is_valid(), form.errors
    return name_of(form.save())


def name_of(upload: Upload) -> str:
    assert upload.file.name is not None
    return upload.file.name


# -- the ticket view's gate ------------------------------------------------------------------------------------------
def test_the_ticket_view_needs_a_logged_in_user(direct: str, client: Client) -> None:
    status, answer = call(client, TICKET, {"spec": spec(), "name": "a.txt", "size": 1})
    assert (status, answer) == (403, {"error": "You may not upload files."})
    assert client.get(TICKET).status_code == 405


def test_the_views_are_csrf_protected(direct: str, user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    body = json.dumps({"spec": spec(), "name": "a.txt", "size": 1})
    assert client.post(TICKET, body, content_type="application/json").status_code == 403
    page = client.get("/")  # the example page sets the CSRF cookie its form and script send back
    token = page.cookies["csrftoken"].value
    response = client.post(TICKET, body, content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 200


def only_staff(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_staff", False))


def anyone(request: HttpRequest) -> bool:
    return True


def test_the_permission_hook_decides(direct: str, browser: Client, user: User, client: Client) -> None:
    storages = copy.deepcopy(settings_storages())
    storages["default"]["OPTIONS"]["MINIO_DIRECT_UPLOAD_PERMISSION"] = f"{__name__}.only_staff"
    with override_settings(STORAGES=storages):
        assert call(browser, TICKET, {"spec": spec(), "name": "a.txt", "size": 1})[0] == 403
        user.is_staff = True
        user.save()
        assert call(browser, TICKET, {"spec": spec(), "name": "a.txt", "size": 1})[0] == 200
    storages["default"]["OPTIONS"]["MINIO_DIRECT_UPLOAD_PERMISSION"] = f"{__name__}.anyone"
    with override_settings(STORAGES=storages):
        browser.logout()
        assert call(browser, TICKET, {"spec": spec(), "name": "a.txt", "size": 1})[0] == 200


def settings_storages() -> dict[str, Any]:
    from django.conf import settings

    return cast(dict[str, Any], settings.STORAGES)


@pytest.mark.parametrize(
    ("field", "value"),
    [("spec", "forged"), ("name", ""), ("name", ".."), ("name", "a\x00.txt"), ("size", -1), ("size", "10")],
)
def test_a_forged_request_is_a_400(direct: str, browser: Client, field: str, value: Any) -> None:
    body: dict[str, Any] = {"spec": spec(), "name": "a.txt", "size": 10}
    body[field] = spec()[:-2] + "xx" if value == "forged" else value
    status, answer = call(browser, TICKET, body)
    assert status == 400 and answer["error"]


def test_an_oversize_or_unwanted_file_is_refused_before_the_upload(
    direct: str, browser: Client, admin_client: Minio
) -> None:
    class Pictures(forms.Form):
        file = DirectUploadField(max_size=1000, content_types=["image/"])

    status, answer = call(browser, TICKET, {"spec": spec(Pictures), "name": "big.png", "size": 1001})
    assert (status, answer["error"]) == (400, "The file is 1001 bytes; at most 1000 are allowed.")
    status, answer = call(browser, TICKET, {"spec": spec(Pictures), "name": "page.html", "size": 10})
    assert (status, answer["error"]) == (400, "Files of type text/html are not allowed.")
    assert call(browser, TICKET, {"spec": spec(Pictures), "name": "a.png", "size": 10})[0] == 200
    assert stored_names(admin_client, PRIVATE_BUCKET, direct) == set()  # a ticket stores nothing


# -- one POST ----------------------------------------------------------------------------------------------------------
def test_a_small_file_goes_up_in_one_post_and_the_form_moves_it(
    direct: str, browser: Client, admin_client: Minio
) -> None:
    token = post_upload(browser, b"straight to the bucket")
    staged = load(Staged, token)
    assert staged.key.startswith(direct) and staged.name == "hello.txt" and staged.content_type == "text/plain"
    name = save_form(token)
    assert name.startswith("uploads/hello") and name.endswith(".txt")
    assert stored_bytes(admin_client, name) == b"straight to the bucket"
    assert admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=name).content_type == "text/plain"
    assert stored_names(admin_client, PRIVATE_BUCKET, direct) == set()  # the staged object is gone
    assert Upload.objects.get(file=name).file.read() == b"straight to the bucket"


def test_the_post_policy_refuses_more_than_the_field_allows(direct: str, browser: Client, admin_client: Minio) -> None:
    class Small(forms.Form):
        file = DirectUploadField(max_size=100)

    status, ticket = call(browser, TICKET, {"spec": spec(Small), "name": "a.txt", "size": 100})
    assert status == 200
    refused = post_form(ticket["url"], ticket["fields"], b"x" * 101)  # the browser lied about the size
    assert refused.status == 400 and b"EntityTooLarge" in refused.data
    assert stored_names(admin_client, PRIVATE_BUCKET, direct) == set()


# -- parts -------------------------------------------------------------------------------------------------------------
def test_a_large_file_goes_up_in_parts(direct: str, browser: Client, admin_client: Minio) -> None:
    data = bytes(range(256)) * (12 * MiB // 256) + b"tail"
    ticket = parts_upload(browser, data)
    assert ticket["parts"] == 3
    status, answer = call(browser, "/uploads/complete/", {"ticket": ticket["ticket"]})
    assert status == 200, answer
    again = call(browser, "/uploads/complete/", {"ticket": ticket["ticket"]})  # the answer was lost: asked again
    assert again[0] == 200
    assert stored_bytes(admin_client, save_form(answer["token"])) == data
    assert stored_names(admin_client, PRIVATE_BUCKET, direct) == set()
    assert open_uploads(admin_client, direct) == []


def test_a_part_url_accepts_only_its_length(direct: str, browser: Client) -> None:
    status, ticket = call(browser, TICKET, {"spec": spec(), "name": "b.bin", "size": 2 * PART})
    status, answer = call(browser, "/uploads/parts/", {"ticket": ticket["ticket"], "numbers": [1]})
    refused = POOL.request("PUT", answer["urls"]["1"], body=b"x" * (PART + 1))
    assert (refused.status, b"SignatureDoesNotMatch" in refused.data) == (403, True)
    status, answer = call(browser, "/uploads/parts/", {"ticket": ticket["ticket"], "numbers": [3]})
    assert status == 400  # there is no part 3


def test_completing_with_a_part_missing_is_refused(direct: str, browser: Client, admin_client: Minio) -> None:
    data = b"m" * (2 * PART + 10)
    status, ticket = call(browser, TICKET, {"spec": spec(), "name": "m.bin", "size": len(data)})
    status, answer = call(browser, "/uploads/parts/", {"ticket": ticket["ticket"], "numbers": [1, 3]})
    for number in (1, 3):
        POOL.request("PUT", answer["urls"][str(number)], body=data[(number - 1) * PART : number * PART])
    status, answer = call(browser, "/uploads/complete/", {"ticket": ticket["ticket"]})
    assert (status, answer["error"]) == (400, "The upload is incomplete: part 2 of 3 has not arrived.")
    assert stored_names(admin_client, PRIVATE_BUCKET, direct) == set()


def test_abort_leaves_nothing(direct: str, browser: Client, admin_client: Minio) -> None:
    ticket = parts_upload(browser, b"a" * (PART + 1))
    assert len(open_uploads(admin_client, direct)) == 1
    assert call(browser, "/uploads/abort/", {"ticket": ticket["ticket"]}) == (200, {"aborted": True})
    assert open_uploads(admin_client, direct) == []
    token = post_upload(browser, b"posted, then cancelled")
    assert len(stored_names(admin_client, PRIVATE_BUCKET, direct)) == 1
    assert call(browser, "/uploads/abort/", {"token": token}) == (200, {"aborted": True})
    assert stored_names(admin_client, PRIVATE_BUCKET, direct) == set()


def test_a_ticket_is_for_its_user_only(direct: str, browser: Client) -> None:
    ticket = parts_upload(browser, b"a" * (PART + 1))
    other = Client()
    other.force_login(User.objects.create_user(username="someone-else", password="pw"))
    status, _ = call(other, "/uploads/abort/", {"ticket": ticket["ticket"]})
    assert status == 403
    status, _ = call(browser, "/uploads/abort/", {"ticket": ticket["ticket"][:-3] + "abc"})
    assert status == 400


# -- the form --------------------------------------------------------------------------------------------------------
def test_a_forged_token_is_a_400(direct: str, browser: Client) -> None:
    token = post_upload(browser, b"x")
    response = browser.post("/", {"title": "t", "file": token[:-4] + "AAAA"})
    assert response.status_code == 400
    with pytest.raises(TamperedToken):
        UploadForm(data={"title": "t", "file": "not a token"}).is_valid()


def test_an_expired_token_is_a_form_error(direct: str, browser: Client) -> None:
    hours_ago = time.time() - 7 * 3600  # MINIO_DIRECT_UPLOAD_EXPIRY is 6 hours by default
    with mock.patch("django.core.signing.time.time", return_value=hours_ago):
        token = post_upload(browser, b"x")
    form = UploadForm(data={"title": "t", "file": token})
    assert not form.is_valid()
    assert form.errors["file"] == ["The upload expired; please choose the file again."]


def test_the_form_keeps_a_done_upload_when_another_field_fails(direct: str, browser: Client) -> None:
    token = post_upload(browser, b"kept", name="kept.txt")
    response = browser.post("/", {"title": "x" * 101, "file": token})  # the title is too long
    assert response.status_code == 200
    page = response.content.decode()
    assert f'value="{token}"' in page and "Uploaded kept.txt" in page


def test_what_fails_the_checks_is_deleted(direct: str, browser: Client, admin_client: Minio) -> None:
    class Small(forms.Form):
        file = DirectUploadField(max_size=5)

    token = post_upload(browser, b"123456")  # staged under the example form's larger limit
    form = Small(data={"file": token})
    assert not form.is_valid() and form.errors["file"] == ["The file is 6 bytes; at most 5 are allowed."]
    assert stored_names(admin_client, PRIVATE_BUCKET, direct) == set()

    staging = field_of(UploadForm()).staging()
    key = staging.new_key()  # an object whose stored type does not match its name (written around the policy)
    admin_client.put_object(
        bucket_name=PRIVATE_BUCKET, object_name=key, data=io.BytesIO(b"<b>"), length=3, content_type="text/html"
    )
    forged = dump(Staged(staging.alias, staging.bucket, key, "photo.txt", "text/plain"))
    example = UploadForm(data={"title": "t", "file": forged})
    assert not example.is_valid() and example.errors["file"] == ["The file was stored as text/html, not text/plain."]
    assert stored_names(admin_client, PRIVATE_BUCKET, direct) == set()

    missing = dump(Staged(staging.alias, staging.bucket, staging.new_key(), "a.txt", "text/plain"))
    example = UploadForm(data={"title": "t", "file": missing})
    assert not example.is_valid()
    assert example.errors["file"] == ["The upload did not finish; please choose the file again."]


def test_validators_read_the_staged_file(direct: str, browser: Client) -> None:
    seen: list[tuple[str, int, bytes]] = []

    def starts_with_magic(file: StagedUpload) -> None:
        seen.append((file.name or "", file.size, file.read(5)))
        if not file.read().endswith(b"end"):
            raise ValidationError("no end")

    class Checked(forms.Form):
        file = DirectUploadField(max_size=1000, validators=[starts_with_magic])

    form = Checked(data={"file": post_upload(browser, b"MAGIC and the end", name="m.txt")})
    assert form.is_valid(), form.errors
    assert seen == [("m.txt", 17, b"MAGIC")]
    form = Checked(data={"file": post_upload(browser, b"MAGIC without it", name="m.txt")})
    assert not form.is_valid() and form.errors["file"] == ["no end"]


def test_a_token_of_another_staging_area_is_refused(direct: str, browser: Client) -> None:
    token = post_upload(browser, b"x")
    staged = load(Staged, token)
    moved = dump(Staged(staged.alias, "another-bucket", staged.key, staged.name, staged.content_type))
    form = UploadForm(data={"title": "t", "file": moved})
    assert not form.is_valid() and "another field" in form.errors["file"][0]


def test_an_alias_without_a_staging_prefix_is_refused(live_settings: dict[str, Any]) -> None:
    with pytest.raises(ImproperlyConfigured, match="MINIO_DIRECT_UPLOAD_PREFIX"):
        field_of(UploadForm()).staging()


# -- moving to the final name ----------------------------------------------------------------------------------------
def test_a_taken_name_gets_the_alternative_name(direct: str, browser: Client, admin_client: Minio) -> None:
    put_bytes(admin_client, "uploads/taken.txt", b"someone else's")
    try:
        name = save_form(post_upload(browser, b"mine", name="taken.txt"))
        assert name != "uploads/taken.txt" and name.startswith("uploads/taken_")
        assert stored_bytes(admin_client, "uploads/taken.txt") == b"someone else's"
        assert stored_bytes(admin_client, name) == b"mine"
    finally:
        admin_client.remove_object(bucket_name=PRIVATE_BUCKET, object_name="uploads/taken.txt")


def test_a_replacing_storage_overwrites(direct: str, browser: Client, admin_client: Minio, unique: str) -> None:
    put_bytes(admin_client, f"{unique}/r.txt", b"old")
    staging = field_of(UploadForm()).staging()
    staged = load(Staged, post_upload(browser, b"new"))
    name = move_staged(staging, staged.key, private_storage(replace_existing=True), f"{unique}/r.txt")
    assert (name, stored_bytes(admin_client, name)) == (f"{unique}/r.txt", b"new")


def test_a_large_object_is_copied_in_parts(direct: str, browser: Client, admin_client: Minio, unique: str) -> None:
    data = b"0123456789abcdef" * (11 * MiB // 16)
    ticket = parts_upload(browser, data)
    status, answer = call(browser, "/uploads/complete/", {"ticket": ticket["ticket"]})
    assert status == 200
    staged = load(Staged, answer["token"])
    staging = field_of(UploadForm()).staging()
    put_bytes(admin_client, f"{unique}/copy.bin", b"taken")
    target = private_storage()
    name = move_staged(staging, staged.key, target, f"{unique}/copy.bin", single_copy_limit=PART, copy_part_size=PART)
    assert name.startswith(f"{unique}/copy_") and stored_bytes(admin_client, name) == data
    etag = admin_client.stat_object(bucket_name=PRIVATE_BUCKET, object_name=name).etag or ""
    assert etag.endswith("-3")  # three server-side parts
    assert stored_bytes(admin_client, f"{unique}/copy.bin") == b"taken"
    assert open_uploads(admin_client, unique) == []


def test_a_storage_on_another_server_is_refused(direct: str, browser: Client) -> None:
    staging = field_of(UploadForm()).staging()
    staged = load(Staged, post_upload(browser, b"x"))
    elsewhere = MinioBackend(bucket_name=PRIVATE_BUCKET, MINIO_ENDPOINT="elsewhere:9000")
    with pytest.raises(ImproperlyConfigured, match="copy inside the server"):
        move_staged(staging, staged.key, elsewhere, "a.txt")


# -- the admin -------------------------------------------------------------------------------------------------------
def test_the_admin_uploads_directly(direct: str, client: Client, admin_client: Minio) -> None:
    client.force_login(User.objects.create_superuser(username="admin", password="pw"))
    page = client.get("/admin/direct_upload/upload/add/").content.decode()
    assert "data-dmb-upload" in page and "django_minio_backend/direct-upload.js" in page
    assert 'type="file"' in page and 'name="file"' not in page.split('type="file"')[1].split(">")[0]
    token = post_upload(client, b"from the admin", name="admin.txt")
    response = client.post("/admin/direct_upload/upload/add/", {"title": "a", "file": token})
    assert response.status_code == 302, response.content.decode()[:2000]
    upload = Upload.objects.get(title="a")
    assert stored_bytes(admin_client, name_of(upload)) == b"from the admin"
    change = client.get(f"/admin/direct_upload/upload/{upload.pk}/change/").content.decode()
    assert "Currently:" in change and name_of(upload) in change


def test_staged_uploads_are_file_field_values(direct: str, browser: Client) -> None:
    token = post_upload(browser, b"assigned", name="a.txt")
    cleaned = field_of(UploadForm()).clean(token)
    assert isinstance(cleaned, StagedUpload) and cleaned.closed  # nothing read yet
    assert cleaned.read() == b"assigned"
    upload = Upload(title="direct", file=cleaned)
    upload.full_clean()
    upload.save()
    assert name_of(upload).startswith("uploads/a") and Upload.objects.get(pk=upload.pk).file.read() == b"assigned"
    assert cleaned.name == name_of(upload) and cleaned.open().read() == b"assigned"  # now the saved object


def test_a_ticket_token_is_not_a_staged_token(direct: str, browser: Client) -> None:
    ticket = parts_upload(browser, b"t" * (PART + 1))
    with pytest.raises(TamperedToken):
        load(Staged, ticket["ticket"])
    assert load(Ticket, ticket["ticket"]).size == PART + 1
    assert isinstance(StagingArea.of("default", PRIVATE_BUCKET), StagingArea)
