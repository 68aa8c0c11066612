"""sorl-thumbnail end to end against the real server, set up as the README recommends: sources in the private
bucket, thumbnails made and stored in a private bucket of their own (its own STORAGES alias, so the orphan cleaner,
which scans only buckets that fields store into, never takes them for orphans) and served by presigned URL; and
the S3 requests a page of 20 thumbnails costs on each render."""

from __future__ import annotations

import copy
import html
import io
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.template import Context, Template
from django.test.utils import override_settings
from django.utils.functional import empty
from minio import Minio
from PIL import Image
from sorl.thumbnail import default as sorl_default
from sorl.thumbnail.images import get_or_create_storage

from tests.counting import CountingPoolManager
from tests.helpers import cache_prefix, drop_bucket, fetch
from tests.testapp.models import Photo

PAGE = Template(
    "{% load thumbnail %}{% for photo in photos %}"
    "{% thumbnail photo.image '120x80' crop='center' as thumb %}"
    '<img src="{{ thumb.url }}" width="{{ thumb.width }}" height="{{ thumb.height }}">'
    "{% endthumbnail %}{% endfor %}"
)


@pytest.fixture
def counted_storages(
    live_settings: dict[str, Any], admin_client: Minio, counting_pool: CountingPoolManager
) -> Iterator[dict[str, Any]]:
    """STORAGES with a "thumbnails" alias on a fresh private bucket (sorl's THUMBNAIL_STORAGE), where it and the
    "default" alias (the Photo sources) count their S3 requests; sorl's own handles on its storage are dropped
    so that it uses this configuration."""
    bucket = f"t-thumbs-{uuid.uuid4().hex[:12]}"
    admin_client.make_bucket(bucket_name=bucket)
    storages = copy.deepcopy(live_settings)
    storages["thumbnails"] = copy.deepcopy(storages["default"])
    storages["thumbnails"]["OPTIONS"].update(
        MINIO_DEFAULT_BUCKET=bucket, MINIO_PRIVATE_BUCKETS=[bucket], MINIO_PUBLIC_BUCKETS=[]
    )
    for alias in ("default", "thumbnails"):
        storages[alias]["OPTIONS"]["MINIO_HTTP_CLIENT"] = counting_pool
    with override_settings(STORAGES=storages, THUMBNAIL_STORAGE="thumbnails"):
        sorl_default.storage._wrapped = empty  # LazyObject: set up again on first use
        get_or_create_storage.cache_clear()
        try:
            yield storages
        finally:
            sorl_default.storage._wrapped = empty
            get_or_create_storage.cache_clear()
            drop_bucket(admin_client, bucket)


def jpeg(index: int) -> bytes:
    """A real 900 x 600 JPEG of about 250 KB (noise): reading it takes open()'s first range and the rest."""
    image = Image.frombytes("RGB", (900, 600), os.urandom(900 * 600 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=60, comment=f"photo {index}".encode())
    return out.getvalue()


def requests(pool: CountingPoolManager) -> Counter[str]:
    return Counter(method for method, _ in pool.requests)


@pytest.mark.django_db
@pytest.mark.parametrize("url_cache", [False, True])
def test_a_page_of_20_thumbnails_costs_no_request_once_made(
    counted_storages: dict[str, Any], counting_pool: CountingPoolManager, url_cache: bool
) -> None:
    if url_cache:  # the "django" URL cache on the default LocMemCache; this storage's saves fill its ETag index
        counted_storages["thumbnails"]["OPTIONS"].update(
            MINIO_URL_CACHING_ENABLED=True, MINIO_URL_CACHE_PREFIX=cache_prefix()
        )
    with override_settings(STORAGES=counted_storages):
        photos = [Photo.objects.create(image=ContentFile(jpeg(index), name=f"p{index}.jpg")) for index in range(20)]
        assert all((photo.width, photo.height) == (900, 600) for photo in photos)
        page = Context({"photos": Photo.objects.filter(pk__in=[photo.pk for photo in photos]).order_by("pk")})

        counting_pool.reset()
        first = PAGE.render(page)
        made = requests(counting_pool)
        counting_pool.reset()
        second = PAGE.render(page)
        assert counting_pool.requests == []  # sorl's key-value store knows every thumbnail: no exists(), no HEAD
        cache.clear()  # cold caches: sorl reads its store from the database
        third = PAGE.render(page)
        cold = requests(counting_pool)
        counting_pool.reset()
        PAGE.render(page)
        assert counting_pool.requests == []

    # Without URL caching a URL is signed on each call, with no request; the URL cache's ETag index, lost with
    # the cache, is filled again by one HEAD per thumbnail.
    assert cold == (Counter(HEAD=20) if url_cache else Counter())

    # First render, per thumbnail: sorl's exists() (a HEAD, 404), the source read (open()'s first range and
    # the rest), the thumbnail's PUT; and a HEAD of the bucket if this is the process's first 404 there.
    assert made["HEAD"] in (20, 21) and made - Counter(HEAD=made["HEAD"]) == Counter(GET=40, PUT=20), made
    urls = [html.unescape(part.split('"')[0]) for part in first.split('src="')[1:]]
    assert len(set(urls)) == 20
    if url_cache:  # the same URL for the same content while the cache holds it
        assert first == second
    assert [url.split("?")[0] for url in urls] == [part.split("?")[0] for part in third.split('src="')[1:]]
    thumbnails_bucket = counted_storages["thumbnails"]["OPTIONS"]["MINIO_DEFAULT_BUCKET"]
    for url in urls:
        assert f"/{thumbnails_bucket}/cache/" in url and "X-Amz-Signature=" in url  # private bucket: presigned
        assert Image.open(io.BytesIO(fetch(url))).size == (120, 80)
    assert 'width="120" height="80"' in first
