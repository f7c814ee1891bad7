"""Timing blocks shared by the benchmarks (perf-notes, "Method"): blocks of calls rotated through
the contenders, a pause before each so one runtime's spinning threads do not steal the next one's
cores, seconds per call and process-CPU / wall per block (about the thread count when idle)."""

from __future__ import annotations

import time
from collections.abc import Callable


def timed_block(fn: Callable[[], object], calls: int, pause: float = 0.05) -> tuple[float, float]:
    """Seconds per call and process-CPU / wall over one block."""
    time.sleep(pause)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    wall = time.perf_counter() - wall
    return wall / calls, (time.process_time() - cpu) / wall


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, block_s: float,
                pause: float = 0.05) -> dict[str, dict]:
    """Per name: times (s per call, one per repeat) and cpu ratios, blocks in rotating order."""
    calls = {}
    for name, fn in fns.items():                   # 2 warm-up calls, then calibrate a block
        fn()
        fn()
        start = time.perf_counter()
        fn()
        calls[name] = max(1, round(block_s / (time.perf_counter() - start)))
    out: dict[str, dict] = {name: {"times": [], "cpu": []} for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            seconds, cpu = timed_block(fns[name], calls[name], pause)
            out[name]["times"].append(seconds)
            out[name]["cpu"].append(cpu)
    return out
