"""Run every benchmark: `python -m perf`. One module per topic, each with a `main()`."""

from __future__ import annotations

import importlib

TOPICS = [
    "perf.transfer",
]


def main() -> None:
    for topic in TOPICS:
        print(f"\n=== {topic} ===", flush=True)
        importlib.import_module(topic).main([])


if __name__ == "__main__":
    main()
