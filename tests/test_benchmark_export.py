"""benchmarks/export_runtime.py --quick runs end to end: every model, mode and backend has a row,
with a positive speed, and every backend agrees with eager before it is timed."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "export_runtime.py"


def load_benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))          # its sibling _timing.py, as when run as a script
    spec = importlib.util.spec_from_file_location("export_runtime", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)      # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_quick_run_has_every_row_and_backends_agree(tmp_path, capsys, monkeypatch):
    bench = load_benchmark(monkeypatch)
    out = tmp_path / "results.json"
    rows = bench.main(["--quick", "--threads", "1", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "skipped" not in printed
    expected = {(m, mode, b) for m in ("language model", "classifier", "forecaster")
                for mode in bench.MODES for b in bench.BACKENDS}
    assert {(r["model"], r["mode"], r["backend"]) for r in rows} == expected
    for r in rows:
        assert math.isfinite(r["value"]) and r["value"] > 0
        assert r["max_abs_diff"] <= 1e-4
        assert f"| {r['model']} | {r['mode']} | {r['backend']} |" in printed
    assert "1 threads (torch.set_num_threads and onnxruntime intra_op_num_threads)" in printed
    assert len(json.loads(out.read_text())["rows"]) == len(expected)
