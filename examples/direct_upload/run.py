"""Serve the example page on http://127.0.0.1:8000/ (user demo, password demo) against an embedded SeaweedFS.

    python examples/direct_upload/run.py [PORT]

The page uploads the chosen file straight to the bucket (progress bar, cancel, parts above 10 MiB) and posts
only a signed token; /plain/ is the same form posted through Django; /admin/ uses the same widget.
"""

from __future__ import annotations

import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.direct_upload.project import example_project


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the embedded server on `kill` too
    with tempfile.TemporaryDirectory() as workdir, example_project(Path(workdir), port):
        from django.core.management import call_command

        print(f"Open http://127.0.0.1:{port}/ and log in as demo / demo (Ctrl-C stops).", flush=True)
        call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
