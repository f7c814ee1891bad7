"""First differences as input channels (task.differences): the layer, the statistics the task keeps
for it, and a run that reads them, saves, loads without its data and predicts the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import rnnkit
from conftest import write_ramps
from rnnkit.cli import main
from rnnkit.config import ModelConfig
from rnnkit.layers.differences import Differences, difference_statistics
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.tasks.classification import SequenceClassification


def test_the_layer_appends_standardised_differences_zero_at_the_first_step() -> None:
    x = torch.tensor([[[1.0, 10.0], [3.0, 10.0], [6.0, 4.0]]])                  # (1, 3, 2)
    layer = Differences(torch.tensor([1.0, 0.0]), torch.tensor([2.0, 3.0]))
    y = layer(x)
    assert y.shape == (1, 3, 4)
    torch.testing.assert_close(y[..., :2], x)
    torch.testing.assert_close(y[0, :, 2:], torch.tensor([[-0.5, 0.0], [0.5, 0.0], [1.0, -2.0]]))
    with pytest.raises(ValueError, match=r"expected \(batch, time, 2\) inputs"):
        layer(torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="vectors of one size"):
        Differences(torch.zeros(2), torch.ones(3))


def test_statistics_never_difference_across_two_sequences() -> None:
    a, b = torch.tensor([[0.0], [1.0], [2.0]]), torch.tensor([[100.0], [103.0]])
    mean, std = difference_statistics([a, b, torch.tensor([[7.0]])])          # diffs 1, 1, 3 (not 98)
    assert mean.item() == pytest.approx(5 / 3) and std.item() == pytest.approx(torch.tensor([1.0, 1, 3]).std().item())
    with pytest.raises(ValueError, match="at least 2 steps"):
        difference_statistics([torch.zeros(1, 2)])


def test_the_task_keeps_statistics_of_the_standardised_differences(tmp_path: Path) -> None:
    write_ramps(tmp_path / "data", count=6)
    task = SequenceClassification(path=str(tmp_path / "data"), differences=True, protocol="holdout")
    data = task.load()
    meta = task.describe(data)
    mean, std = torch.tensor(meta["mean"]), torch.tensor(meta["std"])
    model = task.build_model(ModelConfig(hidden_size=4), meta)
    assert isinstance(model, SequenceClassifier) and model.input_size == 2 and model.rnn.input_size == 4
    torch.testing.assert_close(model.differences.mean, torch.tensor(meta["differences"]["mean"]))
    z = (data.train.inputs.double() - mean) / std                              # (N, T, 2) padded
    steps = [z[i, 1:int(n)] - z[i, :int(n) - 1] for i, n in enumerate(data.train.lengths)]
    torch.testing.assert_close(torch.tensor(meta["differences"]["std"], dtype=torch.float64), torch.cat(steps).std(0),
                               atol=1e-5, rtol=0)
    plain = SequenceClassification(path=str(tmp_path / "data"), protocol="holdout")
    assert plain.describe(plain.load()).get("differences") is None
    assert plain.build_model(ModelConfig(hidden_size=4), plain.describe(plain.load())).differences is None
    reservoir = SequenceClassification(path=str(tmp_path / "data"), differences=True, encoder="reservoir")
    esn = reservoir.build_model(ModelConfig(hidden_size=5), reservoir.describe(reservoir.load()))
    assert esn.input_size == 2 and esn.body.input_size == 4 and esn.differences is not None
    x = torch.randn(2, 6, 2, dtype=torch.float64)
    torch.testing.assert_close(esn.inputs(x)[..., 2:], esn.differences(esn.inputs(x)[..., :2])[..., 2:])


def test_a_run_with_differences_loads_without_its_data_predicts_the_same_and_exports(
        tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    write_ramps(tmp_path / "data", count=8)
    run = tmp_path / "run"
    assert main(["classify", "train", "configs/classify_sequences.toml", f"--task.path={tmp_path / 'data'}",
                 f"--out_dir={run}", "--task.differences=true", "--task.protocol=holdout", "--task.pooling=last",
                 "--train.epochs=3", "--model.hidden_size=6", "--train.plots=false", "--train.baselines=false"]) == 0
    assert json.loads((run / "meta.json").read_text())["meta"]["differences"]["std"]
    inputs = [torch.randn(9, 2), torch.randn(4, 2)]
    before = rnnkit.load(run).predictor.probabilities(inputs)
    assert main(["export", str(run)]) == 0                                     # whole sequences: checked equal
    info = json.loads((run / "export" / "model.json").read_text())
    assert info["graphs"]["model"]["max_abs_difference"] <= 1e-5
    assert main(["export", str(run), "--streaming"]) == 2
    assert "first differences" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "data")
    request.getfixturevalue("without_data")
    torch.testing.assert_close(rnnkit.load(run).predictor.probabilities(inputs), before)
