"""Training runs side by side for the result benchmarks: `parallel` subprocesses at a time, each on
one thread when more than one runs (two one-thread runs use a 2-core machine better than one
two-thread run), each with its log next to its run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def run_parallel(commands: dict[str, list[str]], out: Path, parallel: int,
                 done: Callable[[str, float], None]) -> None:
    """Runs each named command (its log: OUT/NAME.log); calls done(name, seconds) when one
    succeeds and says on stderr which failed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1" if parallel > 1 else os.environ.get("OMP_NUM_THREADS", "")}
    env = {k: v for k, v in env.items() if v}
    pending, running = list(commands), {}
    while pending or running:
        while pending and len(running) < parallel:
            name = pending.pop(0)
            log = open(out / f"{name}.log", "w")
            running[name] = (subprocess.Popen(commands[name], stdout=log, stderr=subprocess.STDOUT, env=env),
                             time.time(), log)
        time.sleep(2)
        for name, (process, start, log) in list(running.items()):
            if process.poll() is None:
                continue
            log.close()
            del running[name]
            if process.returncode:
                print(f"{name} failed (exit {process.returncode}); see {out / name}.log", file=sys.stderr)
            else:
                done(name, time.time() - start)


def merge_results(out: Path, results: dict[str, dict]) -> dict[str, dict]:
    """OUT/results.json updated with these runs (earlier runs of other names kept); returns all."""
    path = out / "results.json"
    every = {**(json.loads(path.read_text()) if path.is_file() else {}), **results}
    path.write_text(json.dumps(every, indent=1))
    return every
