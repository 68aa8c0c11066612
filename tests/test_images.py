"""ImageField with width_field/height_field on real JPEG and PNG files, and how little of a stored image
Django reads to learn its dimensions (bytes counted at a proxy in front of the real server)."""

from __future__ import annotations

import copy
import io
import os
import struct
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.images import get_image_dimensions
from django.test.utils import override_settings
from PIL import Image

from django_minio_backend.settings import MiB
from tests.faultproxy import FaultProxy
from tests.helpers import private_storage
from tests.servers import S3Server
from tests.testapp.models import Photo

PREFIX_BUDGET = 256 * 1024  # what learning the dimensions of a 10 MiB image may fetch, response heads included


def noise_image(size: tuple[int, int], image_format: str, **save: Any) -> bytes:
    """A real image of random pixels (it does not compress, so its file is large) in `image_format`."""
    width, height = size
    image = Image.frombytes("RGB", size, os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, image_format, **save)
    return out.getvalue()


def camera_exif() -> Image.Exif:
    """EXIF as large as a camera's (about 40 KB), so the dimensions are not in the first KB."""
    exif = Image.Exif()
    exif[0x010F] = "Test Camera Co."  # Make
    exif[0x010E] = "x" * 40_000  # ImageDescription
    return exif


def first_frame_at(jpeg: bytes) -> int:
    """Where the JPEG's frame header (SOF0/SOF2, which holds the dimensions) starts."""
    position = 2
    while True:
        marker, length = struct.unpack(">HH", jpeg[position : position + 4])
        if marker in (0xFFC0, 0xFFC2):
            return position
        position += 2 + length


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """10.5 MiB, with EXIF and a 50 KB colour profile before its frame header: Django reads 127 KiB to find it."""
    data = noise_image((3600, 2600), "JPEG", quality=95, exif=camera_exif(), icc_profile=b"icc-" * 12_500)
    assert len(data) >= 10 * MiB
    assert 64 * 1024 < first_frame_at(data) < 128 * 1024
    return data


@pytest.fixture(scope="module")
def big_png() -> bytes:
    data = noise_image((1900, 1900), "PNG", compress_level=1)
    assert len(data) >= 10 * MiB
    return data


@pytest.mark.django_db
@pytest.mark.parametrize(("image_format", "extension"), [("JPEG", "jpg"), ("PNG", "png")])
def test_image_field_stores_and_reads_back_dimensions(
    live_settings: dict[str, Any], image_format: str, extension: str
) -> None:
    data = noise_image((321, 123), image_format)
    photo = Photo.objects.create(image=ContentFile(data, name=f"shot.{extension}"))
    assert (photo.width, photo.height) == (321, 123)
    stored = Photo.objects.get(pk=photo.pk)
    assert (stored.width, stored.height) == (321, 123)
    with stored.image.open("rb") as handle:
        assert handle.read() == data
    # Empty dimension columns are filled from the stored file when the row is loaded (Django's post_init).
    Photo.objects.filter(pk=photo.pk).update(width=None, height=None)
    reloaded = Photo.objects.get(pk=photo.pk)
    assert (reloaded.width, reloaded.height) == (321, 123)
    assert (reloaded.image.width, reloaded.image.height) == (321, 123)


@pytest.mark.parametrize("image", ["big_jpeg", "big_png"])
def test_dimensions_of_a_large_stored_image_cost_a_small_prefix(
    live_settings: dict[str, Any], s3_server: S3Server, unique: str, image: str, request: pytest.FixtureRequest
) -> None:
    data: bytes = request.getfixturevalue(image)
    expected = Image.open(io.BytesIO(data)).size
    name = private_storage().save(f"{unique}/big.{'jpg' if image == 'big_jpeg' else 'png'}", ContentFile(data))
    with FaultProxy(s3_server.endpoint) as proxy, private_storage(MINIO_ENDPOINT=proxy.endpoint).open(name) as handle:
        assert get_image_dimensions(handle) == expected
        assert handle.tell() == 0  # Django puts the position back
    assert [head.method for head in proxy.requests] == ["GET"]
    assert proxy.bytes_to_client <= PREFIX_BUDGET, f"{proxy.bytes_to_client} bytes fetched for {len(data)}"


def test_dimensions_read_again_from_the_start_cost_a_small_prefix(
    live_settings: dict[str, Any], s3_server: S3Server, unique: str, big_jpeg: bytes
) -> None:
    """Django seeks to byte 0 before parsing: a file read elsewhere, or closed and opened again, asks for the same
    small first range as open() does, not a whole chunk."""
    name = private_storage().save(f"{unique}/big.jpg", ContentFile(big_jpeg))
    with FaultProxy(s3_server.endpoint) as proxy:
        with private_storage(MINIO_ENDPOINT=proxy.endpoint).open(name) as handle:
            handle.seek(5 * MiB)
            assert handle.read(10) == big_jpeg[5 * MiB : 5 * MiB + 10]
            assert get_image_dimensions(handle) == (3600, 2600)
            assert handle.tell() == 5 * MiB + 10
        assert get_image_dimensions(handle.open()) == (3600, 2600)
        handle.close()
        ranges = [head.headers["range"] for head in proxy.requests]
    first = f"bytes=0-{128 * 1024 - 1}"
    assert ranges == [first, f"bytes={5 * MiB}-{9 * MiB - 1}", first, first]


@pytest.mark.django_db
def test_loading_a_row_with_empty_dimensions_reads_a_small_prefix(
    live_settings: dict[str, Any], s3_server: S3Server, big_jpeg: bytes
) -> None:
    photo = Photo.objects.create(image=ContentFile(big_jpeg, name="big.jpg"))
    Photo.objects.filter(pk=photo.pk).update(width=None, height=None)
    with FaultProxy(s3_server.endpoint) as proxy:
        storages = copy.deepcopy(live_settings)
        storages["default"]["OPTIONS"]["MINIO_ENDPOINT"] = proxy.endpoint
        with override_settings(STORAGES=storages):
            reloaded = Photo.objects.get(pk=photo.pk)
            assert (reloaded.width, reloaded.height) == (3600, 2600)
            reloaded.image.close()
    assert [head.method for head in proxy.requests] == ["GET"]
    assert proxy.bytes_to_client <= PREFIX_BUDGET
