"""Run every benchmark topic in turn; each module listed here has a `main()`."""

from __future__ import annotations

import importlib

MODULES = [
    "perf.urls",
    "perf.collectstatic",
    "perf.orphans",
    "perf.transfer",
]


def main() -> None:
    for name in MODULES:
        print(f"\n== {name}", flush=True)
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
