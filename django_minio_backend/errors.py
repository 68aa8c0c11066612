"""Telling "the object is not there" apart from every other failure."""

from __future__ import annotations

from minio.error import S3Error

NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "ResourceNotFound"})


class BucketNotFoundError(OSError):
    """The storage's bucket does not exist: a configuration problem, not a missing file."""


def is_not_found(error: BaseException) -> bool:
    """True only for the server's definite "no such object" answer; network and permission errors are not."""
    if isinstance(error, S3Error):
        return error.code in NOT_FOUND_CODES or (
            error.response is not None and error.response.status == 404 and error.code != "NoSuchBucket"
        )
    return False


class DeadlineExceeded(TimeoutError):
    """A storage call (or one request of a transfer) did not finish within MINIO_REQUEST_DEADLINE."""
