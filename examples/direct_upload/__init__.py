"""An example page uploading straight from the browser to the bucket (`python examples/direct_upload/run.py`)."""
