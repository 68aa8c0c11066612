"""The counting pool sees the storage's real traffic."""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile

from tests.counting import CountingPoolManager
from tests.helpers import private_storage


def test_counting_pool_records_storage_requests(
    live_settings: dict[str, Any], unique: str, counting_pool: CountingPoolManager
) -> None:
    storage = private_storage(MINIO_HTTP_CLIENT=counting_pool)
    storage.save(f"{unique}/c.txt", ContentFile(b"x"))
    counting_pool.reset()
    assert storage.exists(f"{unique}/c.txt")
    assert counting_pool.count("HEAD") == 1
    storage.url(f"{unique}/c.txt")
    assert counting_pool.count() == 1  # building a URL is not a request


def test_counting_pool_records_answers(
    live_settings: dict[str, Any], unique: str, counting_pool: CountingPoolManager
) -> None:
    private_storage().exists(f"{unique}/warm-up.txt")  # the process's first miss on a bucket also checks the bucket
    storage = private_storage(MINIO_HTTP_CLIENT=counting_pool)
    assert not storage.exists(f"{unique}/missing.txt")
    assert [(method, status) for method, _, status in counting_pool.answers] == [("HEAD", 404)]
