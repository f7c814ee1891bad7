"""benchmarks/tagging.py end to end on a tiny generated corpus: every variant's run is trained with
the same budget, read back from its baselines.json, and summarised as one markdown row."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from test_tagging_task import write_corpus

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "tagging.py"


def test_two_variants_two_seeds_give_rows_and_results(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_tagging", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = write_corpus(tmp_path / "ner", {"train": 24, "valid": 6, "test": 6})
    tiny = [f"--flag=--task.path={data}", "--flag=--task.scheme=IOB2", "--flag=--task.embedding_size=4",
            "--flag=--task.char_hidden_size=2", "--flag=--model.hidden_size=4", "--flag=--train.batch_size=12",
            "--flag=--train.baselines=true"]
    bench.main(["--variants", "ner_gru_crf", "ner_lstm_softmax", "--seeds", "0", "1", "--epochs", "1", "--jobs", "2",
                "--out", str(tmp_path / "out"), *tiny])
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert sorted(results) == ["ner_gru_crf_s0", "ner_gru_crf_s1", "ner_lstm_softmax_s0", "ner_lstm_softmax_s1"]
    assert all(0 <= r["model"]["f1"] <= 1 and r["seconds"] > 0 for r in results.values())
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ner_")]
    assert len(rows) == 2 and all("| 2 | f1 " in row for row in rows)
