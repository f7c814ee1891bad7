"""Feature-sequence classification through the CLI on a tiny generated dataset: an echo state
network as the encoder (train.method = "ridge"), then eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import write_ramps
from rnnkit.cli import main


def config(tmp: Path, **task: object) -> Path:
    settings = {"name": "sequence_classification", "path": str(tmp / "data"), "encoder": "reservoir",
                "pooling": "mean_last", "spectral_radius": 0.9, "leak": 0.5, "valid_fraction": 0.2, **task}
    lines = [f"out_dir = {json.dumps(str(tmp / 'run'))}", "[task]",
             *(f"{k} = {json.dumps(v)}" for k, v in settings.items()),
             "[model]", "hidden_size = 40", "[train]", 'method = "ridge"', "batch_size = 8"]
    (tmp / "config.toml").write_text("\n".join(lines) + "\n")
    return tmp / "config.toml"


@pytest.fixture(scope="module")
def esn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("esn_classify")
    write_ramps(tmp / "data" / "train")
    write_ramps(tmp / "data" / "test", count=6, seed=1)
    assert main(["classify", "train", str(config(tmp))]) == 0
    return tmp / "run"


def test_reservoir_encoder_trains_by_ridge_and_prints_test_accuracy(esn_run: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from rnnkit.models.esn import EchoStateClassifier
    from rnnkit.runs import load

    saved = load(esn_run)
    model, meta = saved.model, saved.meta
    assert isinstance(model, EchoStateClassifier) and meta["classes"] == ["east", "northwest", "southwest"]
    assert main(["classify", "eval", str(esn_run), "--split=test"]) == 0
    metrics = json.loads(capsys.readouterr().out.splitlines()[0])
    assert metrics["split"] == "test" and metrics["accuracy"] > 0.9            # 18 test sequences


def test_ridge_training_prints_valid_and_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_ramps(tmp_path / "data")
    assert main(["train", str(config(tmp_path, test_fraction=0.25))]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [m["split"] for m in printed[-2:]] == ["valid", "test"] and printed[-1]["accuracy"] > 0.85


def test_reservoir_settings_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_ramps(tmp_path / "data", count=3)
    assert main(["train", str(config(tmp_path, pooling="attention"))]) == 2
    assert "one of ['last', 'max', 'mean', 'mean_last', 'concat'] with a reservoir" in capsys.readouterr().err
    assert main(["train", str(config(tmp_path, encoder="rnn", pooling="last"))]) == 2
    assert "set task.encoder = 'reservoir'" in capsys.readouterr().err
    torch.manual_seed(0)


def predicted(out: str) -> list[tuple[str, str]]:
    """(label, name) of each line `rnnkit classify predict` printed."""
    return [(line.split("\t")[0], line.split("\t")[-1]) for line in out.strip().splitlines()]


def test_predict_sequences_from_a_folder_a_csv_and_npy(esn_run: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from rnnkit.data.labelled import read_sequence_csv
    from rnnkit.runs import load

    saved = load(esn_run)
    task, model = saved.task, saved.model
    torch.testing.assert_close(model.feature_mean, torch.tensor(task.load().meta["mean"]))   # the run's statistics
    folder = esn_run.parent / "data" / "test"
    capsys.readouterr()
    assert main(["classify", "predict", str(esn_run), str(folder)]) == 0
    rows = predicted(capsys.readouterr().out)
    assert len(rows) == 18 and sum(label == name.split("/")[0] for label, name in rows) >= 16
    one = folder / "east" / "0.csv"
    assert main(["classify", "predict", str(esn_run), f"--csv={one}"]) == 0
    line = capsys.readouterr().out.strip()
    series = read_sequence_csv(one)
    expected = saved.predictor.probabilities([series])[0]
    assert line.endswith("\t0.csv") and float(line.split("\t")[1]) == pytest.approx(float(expected.max()), abs=1e-3)
    np.save(tmp_path / "one.npy", series.numpy())
    np.save(tmp_path / "many.npy", np.stack([series[:8].numpy()] * 3))
    assert main(["classify", "predict", str(esn_run), str(tmp_path / "one.npy")]) == 0
    assert capsys.readouterr().out.strip().split("\t")[:2] == line.split("\t")[:2]
    assert main(["classify", "predict", str(esn_run), str(tmp_path / "many.npy")]) == 0
    assert [name for _, name in predicted(capsys.readouterr().out)] == ["many.npy[0]", "many.npy[1]", "many.npy[2]"]


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,2\n3,4,5\n", r"bad\.csv, line 3: 3 features, expected 2"),
    ("1,2\nnan,4\n", r"bad\.csv, line 2: NaN"),
    ("1,2\nx,y\n", r"bad\.csv, line 2: not a row of numbers"),
])
def test_predict_sequence_errors_name_the_row(esn_run: Path, tmp_path: Path, content: str, message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import re

    (tmp_path / "bad.csv").write_text(content)
    assert main(["classify", "predict", str(esn_run), str(tmp_path / "bad.csv")]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_predict_npy_errors(esn_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    bad = np.zeros((3, 5, 2))
    bad[1, 2, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.save(tmp_path / "wide.npy", np.zeros((5, 4)))
    assert main(["classify", "predict", str(esn_run), str(tmp_path / "nan.npy")]) == 2
    assert "nan.npy, sequence 1, step 2: NaN" in capsys.readouterr().err
    assert main(["classify", "predict", str(esn_run), str(tmp_path / "wide.npy")]) == 2
    assert "wide.npy, sequence 0: 4 features, but the model was trained on 2" in capsys.readouterr().err
    assert main(["classify", "predict", str(esn_run), str(tmp_path / "missing")]) == 2
    assert "no file or folder" in capsys.readouterr().err
