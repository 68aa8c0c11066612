"""Compare two runs: the ratio NEW / OLD of every figure both have, and whether that is better or worse.

    python perf/compare.py OLD.json NEW.json [--threshold 0.1]

A change is called better or worse only beyond the threshold (default 10 %: the shared machines these
run on move figures by that much between runs). Figures of one run only are listed at the end.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

Key = tuple[str, str, str, str]


def _figures(path: Path) -> tuple[dict[Key, dict[str, Any]], dict[str, Any]]:
    document = json.loads(path.read_text())
    figures = {(fig["topic"], fig["case"], fig["metric"], fig["library"]): fig for fig in document["figures"]}
    return figures, document


def verdict(ratio: float, better: str, threshold: float) -> str:
    if better not in ("higher", "lower") or abs(ratio - 1) <= threshold:
        return ""
    improved = ratio > 1 if better == "higher" else ratio < 1
    return "better" if improved else "WORSE"


def compare(old_path: Path, new_path: Path, threshold: float) -> list[str]:
    old, old_doc = _figures(old_path)
    new, new_doc = _figures(new_path)
    lines = []
    for label, document in (("old", old_doc), ("new", new_doc)):
        machine = document["machine"]
        lines.append(
            f"{label}: {document['started']} commit {str(machine['git_commit'])[:10]} on {machine['cpu']}, "
            f"{machine['cores']} cores{' (quick)' if document['quick'] else ''}"
        )
    if old_doc["machine"]["cpu"] != new_doc["machine"]["cpu"]:
        lines.append("note: different CPUs; compare ratios against peers rather than absolute figures")
    lines.append("")
    lines.append(f"{'topic':14} {'case':48} {'metric':16} {'library':18} {'old':>10} {'new':>10} {'new/old':>8}")
    for key in (key for key in new if key in old):
        before, after = old[key]["value"], new[key]["value"]
        ratio = after / before if before else float("inf")
        topic, case, metric, library = key
        mark = verdict(ratio, new[key]["better"], threshold)
        lines.append(
            f"{topic:14} {case[:48]:48} {metric[:16]:16} {library[:18]:18} {before:10.4g} {after:10.4g} "
            f"{ratio:7.2f}x {mark}".rstrip()
        )
    only = [f"  only in old: {' | '.join(key)}" for key in old if key not in new]
    only += [f"  only in new: {' | '.join(key)}" for key in new if key not in old]
    if only:
        lines += ["", *only]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--threshold", type=float, default=0.1, help="relative change below which nothing is said")
    args = parser.parse_args(argv)
    print("\n".join(compare(args.old, args.new, args.threshold)))


if __name__ == "__main__":
    main()
