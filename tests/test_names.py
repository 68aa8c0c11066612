"""Object- and bucket-name validation and date prefixes: pure, no server."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.exceptions import SuspiciousFileOperation
from hypothesis import given
from hypothesis import strategies as st

from django_minio_backend import get_iso_date, iso_date_prefix
from django_minio_backend.names import _refuse, bucket_name_problem, clean_name, clean_prefix


@pytest.mark.parametrize(
    "name",
    ["a.txt", "dir/sub/file name.txt", "ünïcödé/ファイル.png", "a+b%20c~d#e?f.txt", "trailing.dot.", "x" * 1000],
)
def test_valid_names_are_kept_unchanged(name: str) -> None:
    assert clean_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "../etc/passwd", "a/../../b", "a/..", "/abs/path", "C:/windows", "a//b", "./a", "a/./b", "a\x00b", "dir/"],
)
def test_bad_names_raise(name: str) -> None:
    with pytest.raises(SuspiciousFileOperation):
        clean_name(name)


def test_overlong_name_raises() -> None:
    with pytest.raises(SuspiciousFileOperation, match="1024 bytes"):
        clean_name("é" * 600)


@pytest.mark.parametrize(("path", "prefix"), [("", ""), ("/", ""), ("a", "a/"), ("a/b/", "a/b/")])
def test_clean_prefix_ends_a_directory_with_exactly_one_slash(path: str, prefix: str) -> None:
    assert clean_prefix(path) == prefix


def test_iso_date_prefix_uses_utc_date() -> None:
    before = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%d")
    value = iso_date_prefix(None, "report.pdf")
    after = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%d")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}/report\.pdf", value)
    assert value.split("/")[0] in (before, after)
    assert get_iso_date() in (before, after)


@pytest.mark.parametrize("name", ["abc", "media-files", "my.static.files", "a" * 63, "0day", "x1-2.y3"])
def test_valid_bucket_names_have_no_problem(name: str) -> None:
    assert bucket_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ab", "3 to 63"),
        ("a" * 64, "3 to 63"),
        ("Media", "lowercase"),
        ("media_files", "lowercase"),
        ("-media", "begin and end"),
        ("media.", "begin and end"),
        ("a..b", "'..'"),
        ("a.-b", "'.-'"),
        ("192.168.0.1", "IP address"),
        ("xn--media", "reserves"),
        ("media-s3alias", "reserves"),
        (42, "string"),
    ],
)
def test_invalid_bucket_names_say_why(name: object, problem: str) -> None:
    assert problem in (bucket_name_problem(name) or "")


_SEGMENT = st.sampled_from(["", ".", "..", "a", "ü", "C:", "x\x00", "é" * 300, "\\", ":"]) | st.text(max_size=8)


@given(st.lists(_SEGMENT, min_size=1, max_size=5).map("/".join) | st.text(max_size=40))
def test_fast_checks_accept_exactly_what_the_full_checks_accept(name: str) -> None:
    """clean_name's substring tests must refuse every name the segment-by-segment checks refuse, and no other."""
    try:
        _refuse(name)
    except SuspiciousFileOperation:
        with pytest.raises(SuspiciousFileOperation):
            clean_name(name)
    else:
        assert clean_name(name) == name
