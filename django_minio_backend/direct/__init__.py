"""Direct browser uploads: the file goes from the browser to the bucket, never through Django.

`DirectUploadField` (with its `DirectUploadWidget`) in a form, `django_minio_backend.direct.urls` in the URLconf,
and `MINIO_DIRECT_UPLOAD_PREFIX` in the alias's OPTIONS. See the README's "Direct browser uploads".
"""

from .fields import DirectUploadField, StagedUpload
from .widgets import DirectUploadWidget

__all__ = ["DirectUploadField", "DirectUploadWidget", "StagedUpload"]
