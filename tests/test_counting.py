"""The counting pool sees the storage's real traffic."""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile

from django_minio_backend import MinioBackend
from tests.counting import CountingPoolManager
from tests.settings import PRIVATE_BUCKET


def test_counting_pool_records_storage_requests(live_settings: dict[str, Any], unique: str) -> None:
    pool = CountingPoolManager()
    storage = MinioBackend(bucket_name=PRIVATE_BUCKET, storage_name="default", MINIO_HTTP_CLIENT=pool)
    storage.save(f"{unique}/c.txt", ContentFile(b"x"))
    pool.reset()
    assert storage.exists(f"{unique}/c.txt")
    assert pool.count("HEAD") == 1
    storage.url(f"{unique}/c.txt")
    assert pool.count() == 1  # building a URL is not a request


def test_counting_pool_records_answers(live_settings: dict[str, Any], unique: str) -> None:
    pool = CountingPoolManager()
    storage = MinioBackend(bucket_name=PRIVATE_BUCKET, storage_name="default", MINIO_HTTP_CLIENT=pool)
    assert not storage.exists(f"{unique}/missing.txt")
    assert [(method, status) for method, _, status in pool.answers] == [("HEAD", 404)]
