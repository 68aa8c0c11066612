"""Run every benchmark topic in turn."""

from __future__ import annotations

import importlib

TOPICS = [
    "perf.urls",
]

for topic in TOPICS:
    importlib.import_module(topic).main()
