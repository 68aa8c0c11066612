"""Best-of-N timing in microseconds per call; also used by the baseline subprocesses.

The machine is shared, so load comes and goes: cases are timed in interleaved passes (a burst then hits
every case alike, not one) and each case keeps its fastest pass, the one least disturbed.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Mapping, Sequence

Case = tuple[Callable[[str], object], Sequence[str]]


def _once(call: Callable[[str], object], names: Sequence[str], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for name in names:
            call(name)
    return (time.perf_counter() - started) / (rounds * len(names))


def interleaved(cases: Mapping[str, Case], passes: int = 9, budget: float = 0.08) -> dict[str, float]:
    """µs per call of each case: `passes` interleaved passes of about `budget` seconds each; the fastest counts."""
    rounds: dict[str, int] = {}
    for label, (call, names) in cases.items():
        _once(call, names, 1)  # warm up: caches filled, code paths hot
        rounds[label] = max(1, math.ceil(budget / max(_once(call, names, 1) * len(names), 1e-9)))
    best = dict.fromkeys(cases, math.inf)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(passes):
            for label, (call, names) in cases.items():
                best[label] = min(best[label], _once(call, names, rounds[label]))
    finally:
        if enabled:
            gc.enable()
    return {label: seconds * 1e6 for label, seconds in best.items()}


def us_per_call(call: Callable[[str], object], names: Sequence[str], passes: int = 9) -> float:
    return interleaved({"case": (call, names)}, passes=passes)["case"]
