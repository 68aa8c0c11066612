"""The views the widget's script calls: a ticket for one upload, URLs of its parts, completion, abort.

Each takes and returns JSON, requires POST and a valid CSRF token, and by default a logged-in user
(`MINIO_DIRECT_UPLOAD_PERMISSION` names another check: a function taking the request and returning a bool).
No file byte ever reaches these views: they sign what the browser sends to the bucket, and start and complete
multipart uploads on the server's side. A forged or damaged signed value is answered with 400.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from functools import wraps
from typing import Any, Final

from django.core import signing
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.utils import validate_file_name
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from ..headers import content_type_for
from ..names import clean_name
from .staging import StagingArea, UploadIncomplete, part_count, part_length
from .tokens import FieldSpec, Staged, TamperedToken, Ticket, dump, load

__all__ = ["abort", "complete", "parts", "ticket"]

MAX_BODY: Final = 64 * 1024  # a request of these views is a few hundred bytes; a bigger one is refused unread
MAX_PARTS_PER_CALL: Final = 100


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


View = Callable[[HttpRequest], dict[str, Any]]


def _json_view(view: View) -> Callable[[HttpRequest], HttpResponse]:
    """POST only, CSRF-checked, never cached; a JSON object in, a JSON object out, refusals as {"error": ...}."""

    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        try:
            return JsonResponse(view(request))
        except _Refused as refused:
            return JsonResponse({"error": str(refused)}, status=refused.status)
        except TamperedToken:
            return JsonResponse({"error": "Bad token."}, status=400)
        except signing.SignatureExpired:
            return JsonResponse({"error": "The upload expired; please choose the file again."}, status=400)

    return never_cache(csrf_protect(require_POST(wrapped)))


def _body(request: HttpRequest) -> dict[str, Any]:
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY:
        raise _Refused(413, "Request too large.")
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise _Refused(400, "The request is not JSON.") from None
    if not isinstance(data, dict):
        raise _Refused(400, "The request is not a JSON object.")
    return data


def _user_id(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    return str(user.pk) if user is not None and user.is_authenticated else ""


def _check_permission(request: HttpRequest, staging: StagingArea) -> None:
    hook = staging.settings.direct_upload_permission
    if hook is None:
        user = getattr(request, "user", None)
        allowed = user is not None and user.is_authenticated
    else:
        allowed = bool(import_string(hook)(request))
    if not allowed:
        raise _Refused(403, "You may not upload files.")


def _integer(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Refused(400, f"{key} must be a number >= 0.")
    return value


def _file_name(data: dict[str, Any]) -> str:
    """The base name of the chosen file, as Django's uploads keep it (a path or a bad name is refused)."""
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise _Refused(400, "name must be the file's name.")
    try:
        return clean_name(str(validate_file_name(posixpath.basename(name.replace("\\", "/")))))
    except SuspiciousFileOperation:
        raise _Refused(400, "Invalid file name.") from None


def _ticket_for(request: HttpRequest, data: dict[str, Any]) -> tuple[Ticket, StagingArea]:
    """The ticket a request names, checked: signed by us, not expired, given to this user."""
    found = load(Ticket, data.get("ticket"))
    staging = StagingArea.of(found.alias, found.bucket)
    found = load(Ticket, data.get("ticket"), max_age=staging.expiry)
    _check_permission(request, staging)
    if found.user != _user_id(request) or not staging.owns(found.key):
        raise _Refused(403, "This upload belongs to someone else.")
    return found, staging


@_json_view
def ticket(request: HttpRequest) -> dict[str, Any]:
    """A new upload: `{"spec", "name", "size"}` -> a form POST (`mode: "post"`, url, fields, token) below the
    multipart threshold, else a started multipart upload (`mode: "parts"`, ticket, part_size, parts)."""
    data = _body(request)
    spec = load(FieldSpec, data.get("spec"))
    staging = StagingArea.of(spec.alias, spec.bucket)
    _check_permission(request, staging)
    name = _file_name(data)
    size = _integer(data, "size")
    rules = spec.rules
    problem = rules.size_problem(size) or rules.type_problem(name)
    if problem is not None:
        raise _Refused(400, problem)
    content_type = content_type_for(name)
    key = staging.new_key()
    staged = Staged(alias=staging.alias, bucket=staging.bucket, key=key, name=name, content_type=content_type)
    if not staging.uses_parts(size):
        policy = staging.post(key, max_size=rules.max_size, content_type=content_type)
        return {"mode": "post", "url": policy.url, "fields": policy.fields, "token": dump(staged)}
    part_size = staging.part_size(size)
    upload_id = staging.begin(key, content_type)
    issued = Ticket(
        alias=staging.alias,
        bucket=staging.bucket,
        key=key,
        name=name,
        content_type=content_type,
        size=size,
        upload_id=upload_id,
        part_size=part_size,
        user=_user_id(request),
    )
    return {"mode": "parts", "ticket": dump(issued), "part_size": part_size, "parts": part_count(size, part_size)}


@_json_view
def parts(request: HttpRequest) -> dict[str, Any]:
    """`{"ticket", "numbers": [1, 2, ...]}` -> `{"urls": {"1": url, ...}}`: presigned PUTs, each accepting exactly
    its part's length. Asked again for a part whose upload failed."""
    data = _body(request)
    found, staging = _ticket_for(request, data)
    numbers = data.get("numbers")
    count = part_count(found.size, found.part_size)
    if (
        not isinstance(numbers, list)
        or not 0 < len(numbers) <= MAX_PARTS_PER_CALL
        or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= count for n in numbers)
    ):
        raise _Refused(400, f"numbers must list 1 to {MAX_PARTS_PER_CALL} part numbers from 1 to {count}.")
    urls = {}
    for number in numbers:
        length = part_length(number, found.size, found.part_size)
        urls[str(number)] = staging.part_url(found.key, found.upload_id, number, length)
    return {"urls": urls}


@_json_view
def complete(request: HttpRequest) -> dict[str, Any]:
    """`{"ticket"}` -> `{"token"}`: the multipart upload completed from the parts the server holds."""
    found, staging = _ticket_for(request, _body(request))
    if not found.upload_id:
        raise _Refused(400, "This upload has no parts.")
    try:
        staging.complete(found.key, found.upload_id, size=found.size, part_size=found.part_size)
    except UploadIncomplete as incomplete:
        raise _Refused(400, f"The upload is incomplete: {incomplete}.") from None
    staged = Staged(found.alias, found.bucket, found.key, found.name, found.content_type)
    return {"token": dump(staged)}


@_json_view
def abort(request: HttpRequest) -> dict[str, Any]:
    """`{"ticket"}` or `{"token"}` -> the upload is aborted and whatever arrived is deleted."""
    data = _body(request)
    if "ticket" in data:
        found, staging = _ticket_for(request, data)
        staging.abort(found.key, found.upload_id)
        return {"aborted": True}
    staged = load(Staged, data.get("token"))
    staging = StagingArea.of(staged.alias, staged.bucket)
    _check_permission(request, staging)
    if not staging.owns(staged.key):
        raise _Refused(403, "This upload belongs to someone else.")
    staging.abort(staged.key, "")
    return {"aborted": True}
