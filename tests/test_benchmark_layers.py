"""benchmarks/layers.py on a tiny shape: every contender runs under its backend and gives a row
with a ratio to its torch peer, the [python] rows and the GRU-against-nn.LSTM row included."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "layers.py"


def load(monkeypatch):
    """benchmarks/layers.py as a module, with its sibling _timing.py importable as when run as a script."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("bench_layers", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_a_tiny_shape_gives_every_row(tmp_path, monkeypatch):
    bench = load(monkeypatch)
    bench.main(["--quick", "--shape", "4,2,3,5", "--json", str(tmp_path / "out.json")])
    rows = json.loads((tmp_path / "out.json").read_text())["rows"]
    train = {(r["layer"], r["peer"]): r for r in rows if r["mode"] == "train"}
    assert ("gru", "nn.GRU") in train and ("gru", "nn.LSTM") in train and ("gru [python]", "nn.GRU") in train
    assert ("ln_lstm+zoneout+rdrop [python]", "nn.LSTM") in train and ("elman", "nn.RNN") in train
    assert ("ln_gru", "nn.GRU") in train and ("ln_gru [python]", "nn.GRU") in train
    assert all(r["ratio"] > 0 and r["ms"] > 0 for r in rows)


def test_combine_takes_the_median_over_runs(tmp_path, monkeypatch, capsys):
    bench = load(monkeypatch)
    row = lambda shape, ratio: {"shape": shape, "mode": "train", "layer": "gru", "peer": "nn.GRU",  # noqa: E731
                                "ratio": ratio}
    files = []
    for i, ratios in enumerate([(0.5, 2.0), (0.7, 1.0), (0.6, 3.0)]):
        files.append(tmp_path / f"run{i}.json")
        files[-1].write_text(json.dumps({"rows": [row([1, 2, 3, 4], ratios[0]), row([5, 6, 7, 8], ratios[1])]}))
    bench.main(["--combine", *map(str, files)])
    out = capsys.readouterr().out
    assert "| gru | nn.GRU | 0.60 (0.50-0.70) | 2.00 (1.00-3.00) |" in out
    assert "1,2,3,4 | 5,6,7,8" in out
