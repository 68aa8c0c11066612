"""python -m perf [--quick] [--only TOPIC[,TOPIC]] [--json PATH] [--report DIR]

Runs every topic (or those given) against one SeaweedFS started here, each peer in the same run, prints a
table per topic, and writes all figures, ratios, curves and the machine to JSON and/or an HTML report.
--quick uses tiny sizes and single repetitions: a smoke test that the benchmarks still run, not figures.
A topic that fails is reported and makes the exit status non-zero; the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ("urls", "collectstatic", "transfer", "orphans")  # orphans last: its bucket grows to 100,000 objects


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perf", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition (under a minute)")
    parser.add_argument("--only", default=",".join(TOPICS), help=f"comma-separated topics of: {', '.join(TOPICS)}")
    parser.add_argument("--json", type=Path, help="write every figure, ratio, curve and the machine here")
    parser.add_argument("--report", type=Path, help="write an HTML report (index.html and its charts) here")
    args = parser.parse_args(argv)
    topics = [topic.strip() for topic in args.only.split(",") if topic.strip()]
    unknown = sorted(set(topics) - set(TOPICS))
    if unknown:
        parser.error(f"unknown topic(s) {', '.join(unknown)}; known: {', '.join(TOPICS)}")

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from perf._bench import PREVIOUS_REQUIREMENTS, Bench
    from perf._machine import machine
    from perf._results import Results
    from tests.servers import start_seaweedfs

    started = datetime.now(tz=UTC)
    where = {**machine(ROOT), "previous_release": " with ".join(PREVIOUS_REQUIREMENTS)}  # the code as it starts
    clock = time.perf_counter()
    results = Results()
    outcome: dict[str, dict[str, object]] = {}
    print(f"perf: {'quick ' if args.quick else ''}run of {', '.join(topics)}; starting SeaweedFS ...", flush=True)
    if args.quick:
        print("(--quick checks that everything runs: its sizes are too small for figures or growth)")
    server = start_seaweedfs()
    with tempfile.TemporaryDirectory(prefix="perf-") as workdir:
        bench = Bench(quick=args.quick, results=results, server=server, workdir=Path(workdir))
        try:
            for topic in topics:
                print(f"\n== {topic}", flush=True)
                topic_clock = time.perf_counter()
                try:
                    importlib.import_module(f"perf.{topic}").run(bench)
                    error = None
                except Exception:  # noqa: BLE001 - reported, and the other topics still run
                    error = traceback.format_exc()
                    print(error, file=sys.stderr, flush=True)
                outcome[topic] = {"seconds": round(time.perf_counter() - topic_clock, 1), "error": error}
                for line in results.lines(topic):
                    print(line)
                print(f"({topic}: {outcome[topic]['seconds']} s)", flush=True)
        finally:
            bench.stop()
            server.stop()
    document = results.to_json(
        schema=1,
        started=started.isoformat(timespec="seconds"),
        seconds=round(time.perf_counter() - clock, 1),
        quick=args.quick,
        command=["python", "-m", "perf", *(argv if argv is not None else sys.argv[1:])],
        topics=outcome,
        machine={**where, "load_average_at_end": list(os.getloadavg())},
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=1) + "\n")
        print(f"\nwrote {args.json}")
    if args.report:
        from perf._report import write_report

        print(f"wrote {write_report(document, args.report)}")
    failed = [topic for topic, found in outcome.items() if found["error"]]
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def topic_main(topic: str, argv: Sequence[str] | None = None) -> None:
    """`python -m perf.<topic> [options]`: the same run, limited to one topic."""
    raise SystemExit(main(["--only", topic, *(argv if argv is not None else sys.argv[1:])]))


if __name__ == "__main__":
    raise SystemExit(main())
