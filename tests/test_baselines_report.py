"""A run records its split and ends with its task's baselines beside the model on the same splits;
`rnnkit eval --baselines` scores them again, and refuses data that no longer gives the split."""

from __future__ import annotations

import json

import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.runs import BASELINES_FILE, SPLIT_FILE, evaluate_run

TINY = ["--train.iterations=3", "--train.eval_every=0", "--train.plots=false", "--train.batch_size=4",
        "--model.hidden_size=4", "--task.train_size=16", "--task.valid_size=8", "--task.test_size=8", "--task.length=6"]


def test_a_run_records_its_split_and_prints_its_baselines(tmp_path, capsys):
    run_dir = tmp_path / "run"
    rnnkit.run(rnnkit.load_config("configs/adding_lstm.toml", [*TINY, f"--out_dir={run_dir}"]))
    printed = capsys.readouterr().out
    assert "the model beside its baselines" in printed and "always_1" in printed and "train_mean" in printed
    split = json.loads((run_dir / SPLIT_FILE).read_text())
    assert split == {"format": 1, "task": "adding", "ids": {"seed": 0, "train": 16, "valid": 8, "test": 8}}
    table = json.loads((run_dir / BASELINES_FILE).read_text())
    assert set(table) == {"valid", "test"} and set(table["test"]) == {"model", "always_1", "train_mean"}
    rows = evaluate_run(run_dir, "test", baselines=True)
    assert set(rows) == set(table["test"])
    for name, metrics in rows.items():
        assert metrics == pytest.approx(table["test"][name])
    assert evaluate_run(run_dir, "test") == pytest.approx(table["test"]["model"])

    assert main(["eval", str(run_dir), "--split=test", "--baselines"]) == 0
    out, err = capsys.readouterr()
    line = json.loads(out)
    assert line["split"] == "test" and set(line["baselines"]) == {"always_1", "train_mean"}
    assert "always_1" in err and "model" in err


def test_eval_refuses_data_that_no_longer_gives_the_split(tmp_path, capsys):
    run_dir = tmp_path / "run"
    overrides = [*TINY, f"--out_dir={run_dir}", "--train.baselines=false"]
    rnnkit.run(rnnkit.load_config("configs/adding_lstm.toml", overrides))
    assert not (run_dir / BASELINES_FILE).exists()
    split = json.loads((run_dir / SPLIT_FILE).read_text())
    split["ids"]["seed"] = 1
    (run_dir / SPLIT_FILE).write_text(json.dumps(split))
    assert main(["eval", str(run_dir), "--baselines"]) == 2
    assert "no longer gives the split" in capsys.readouterr().err and "seed" in split["ids"]


def test_a_task_without_baselines_says_so(tmp_path, capsys):
    run_dir = tmp_path / "run"
    rnnkit.run(rnnkit.load_config("configs/translate_dates.toml", [
        "--train.iterations=1", "--train.eval_every=0", "--train.plots=false", "--train.batch_size=4",
        "--model.hidden_size=4", "--task.samples=60", "--task.embedding_size=4", "--task.bucket_size=0",
        f"--out_dir={run_dir}"]))
    assert main(["eval", str(run_dir), "--baselines"]) == 2
    assert "has no baselines" in capsys.readouterr().err
    ids = json.loads((run_dir / SPLIT_FILE).read_text())["ids"]                 # a carved split, pinned by digest
    assert ids["path"] == "dates" and sum(ids[s]["pairs"] for s in ("train", "valid", "test")) <= 60
    assert len(ids["test"]["sha256"]) == 64 and ids["test"]["sha256"] != ids["valid"]["sha256"]



def test_a_missing_baseline_library_does_not_fail_a_finished_run(tmp_path, capsys, monkeypatch):
    def missing(self, data, split):
        raise ImportError("the baselines need scikit-learn: pip install 'rnnkit[classify]'")

    monkeypatch.setattr(rnnkit.tasks.Adding, "baselines", missing)
    metrics = rnnkit.run(rnnkit.load_config("configs/adding_lstm.toml", [*TINY, f"--out_dir={tmp_path / 'run'}"]))
    assert "mse" in metrics and "baselines skipped: the baselines need scikit-learn" in capsys.readouterr().out
    assert not (tmp_path / "run" / BASELINES_FILE).exists()
