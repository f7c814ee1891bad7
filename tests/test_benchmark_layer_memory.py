"""benchmarks/layer_memory.py measures in a fresh subprocess: a training step's extra resident memory
is positive and grows with the sequence length (the activations kept for the backward pass)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "layer_memory.py"


def test_memory_of_a_step_grows_with_the_sequence(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("layer_memory", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)
    spec.loader.exec_module(bench)
    monkeypatch.setenv("BENCH_THREADS", "1")
    short, long = (bench.in_subprocess("lstm", (T, 16, 32, 128)) for T in (50, 400))
    assert 0 < short < long and long > 4 * short
