"""Best-of-N timing of a per-name call, in microseconds per call; also used by the baseline subprocesses."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence


def us_per_call(call: Callable[[str], object], names: Sequence[str], budget: float = 0.25, repeats: int = 5) -> float:
    """Run `call` over `names` for about `budget` seconds per repeat; the fastest repeat wins (least noise)."""
    for name in names:  # warm up: caches filled, code paths hot
        call(name)
    started = time.perf_counter()
    for name in names:
        call(name)
    once = time.perf_counter() - started
    rounds = max(1, math.ceil(budget / max(once, 1e-9)))
    if once > budget:
        repeats = min(repeats, 2)
    best = math.inf
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(rounds):
                for name in names:
                    call(name)
            best = min(best, (time.perf_counter() - started) / (rounds * len(names)))
    finally:
        if enabled:
            gc.enable()
    return best * 1e6
