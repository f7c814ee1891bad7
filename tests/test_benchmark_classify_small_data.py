"""benchmarks/classify_small_data.py end to end on a tiny generated set: two variants' runs read back
from their cv.json and baselines.json and summarised as one markdown row each."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from conftest import write_ramps

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "classify_small_data.py"


def test_two_variants_give_rows_from_the_folds_and_the_test(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))          # its sibling _jobs.py, as when run as a script
    spec = importlib.util.spec_from_file_location("bench_classify_small_data", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = write_ramps(tmp_path / "ramps", count=6)
    tiny = ["--flag=--task.folds=2", "--flag=--task.ensemble=2", "--flag=--train.epochs=2",
            "--flag=--model.hidden_size=4", "--flag=--task.test_fraction=0.3"]
    bench.main(["--sets", str(data), "--variants", "raw", "diff", "--seeds", "0", "--jobs", "2",
                "--out", str(tmp_path / "out"), *tiny])
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert sorted(results) == ["ramps_diff_s0", "ramps_raw_s0"]
    assert all(0 <= r["cv_accuracy"] <= 1 and 0 <= r["test"] <= 1 and len(r["members"]) == 2
               and 0 <= r["dtw"] <= 1 for r in results.values())
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ramps |")]
    assert len(rows) == 2 and all("| 1 |" in row for row in rows)
