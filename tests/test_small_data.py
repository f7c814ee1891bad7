"""The small-data protocol of sequence classification (task.protocol): stratified folds, the
probability-averaging ensemble, the switch by training-set size, and a cv + ensemble run that
saves, loads without its data and predicts the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit
from conftest import write_ramps
from rnnkit.cli import main
from rnnkit.config import parse_config
from rnnkit.models.ensemble import ProbabilityEnsemble
from rnnkit.runs import crossval
from rnnkit.runs.crossval import CV_FILE, choose_variant, fold_result, stratified_folds
from rnnkit.tasks.classification import SequenceClassification
from rnnkit.train import CheckpointError


def test_stratified_folds_are_disjoint_cover_everything_and_keep_the_class_shares() -> None:
    targets = torch.tensor([0] * 20 + [1] * 10 + [2] * 5)
    folds = stratified_folds(targets, 5, seed=3)
    held = torch.cat([valid for _, valid in folds])
    assert sorted(held.tolist()) == list(range(35))                     # each example held out exactly once
    for train, valid in folds:
        assert not set(train.tolist()) & set(valid.tolist())
        assert len(train) + len(valid) == 35
        assert torch.bincount(targets[valid], minlength=3).tolist() == [4, 2, 1]   # the 4:2:1 shares
    assert [v.tolist() for _, v in folds] != [v.tolist() for _, v in stratified_folds(targets, 5, seed=4)]
    with pytest.raises(ValueError, match="too few for task.folds = 5"):
        stratified_folds(torch.tensor([0, 1] * 4), 5, seed=0)


class Fixed(nn.Module):
    """A member whose logits are given."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x, state=None, lengths=None):
        return self.logits, None


def test_the_ensemble_averages_probabilities_not_logits() -> None:
    a, b = torch.tensor([[4.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0, 1.1]])
    ensemble = ProbabilityEnsemble([Fixed(a), Fixed(b)])
    logits, _ = ensemble(torch.zeros(1, 3, 2))
    mean = (a.softmax(-1) + b.softmax(-1)) / 2
    torch.testing.assert_close(logits.softmax(-1), mean)
    assert logits.argmax(-1).item() == 0 and ((a + b) / 2).argmax(-1).item() == 0
    torch.testing.assert_close(F.cross_entropy(logits, torch.tensor([2])), -mean[0, 2].log())
    c, d = torch.tensor([[-3.0, 4.0, 4.0]]), torch.tensor([[3.0, -2.0, -1.0]])
    assert ((c + d) / 2).argmax(-1).item() == 2                      # mean logits pick class 2 ...
    assert ProbabilityEnsemble([Fixed(c), Fixed(d)])(None)[0].argmax(-1).item() == 0   # ... mean probabilities 0


@pytest.mark.parametrize(("small_data", "protocol"), [(1000, "cv"), (30, "holdout")])
def test_auto_switches_on_the_training_set_size_and_keeps_the_test_split(tmp_path: Path, small_data: int,
                                                                        protocol: str) -> None:
    write_ramps(tmp_path / "data", count=12)                            # 36 sequences, no test split of their own
    task = SequenceClassification(path=str(tmp_path / "data"), small_data=small_data, valid_fraction=0.2,
                                  test_fraction=0.25, ensemble=3)
    data = task.load()
    meta = task.describe(data)
    assert meta["protocol"] == protocol and task.cross_validates(meta) == (protocol == "cv")
    holdout = SequenceClassification(path=str(tmp_path / "data"), protocol="holdout", valid_fraction=0.2,
                                     test_fraction=0.25).load()
    assert data.ids["test"] == holdout.ids["test"]                      # both protocols score the same test
    model = task.build_model(rnnkit.config.ModelConfig(hidden_size=4), meta)
    if protocol == "cv":
        assert data.valid is None and len(data.train) == len(holdout.train) + len(holdout.valid) == 27
        assert isinstance(model, ProbabilityEnsemble) and len(model.members) == 3
    else:
        assert len(data.valid) == 7 and not isinstance(model, ProbabilityEnsemble) and meta["ensemble"] == 0
    reservoir = SequenceClassification(path=str(tmp_path / "data"), encoder="reservoir", pooling="mean")
    assert reservoir.describe(reservoir.load())["protocol"] == "holdout"   # a ridge readout has no epochs


def test_protocol_settings_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="task.protocol must be one of"):
        SequenceClassification(path="x", protocol="kfold")
    with pytest.raises(ValueError, match="set task.encoder = 'rnn' and task.bucket_size = 0"):
        SequenceClassification(path="x", protocol="cv", bucket_size=4)
    with pytest.raises(ValueError, match="task.folds >= 2"):
        SequenceClassification(path="x", folds=1)
    write_ramps(tmp_path / "data", count=6)
    assert main(["train", "configs/classify_sequences.toml", f"--task.path={tmp_path / 'data'}", "--train.epochs=0",
                 "--train.iterations=5", "--train.eval_every_epochs=0", f"--out_dir={tmp_path / 'run'}"]) == 2
    assert "task.protocol = 'cv' chooses the number of epochs" in capsys.readouterr().err


@pytest.fixture(scope="module")
def cv_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cv_run")
    write_ramps(tmp / "data", count=10)
    assert main(["classify", "train", "configs/classify_sequences.toml", f"--task.path={tmp / 'data'}",
                 f"--out_dir={tmp / 'run'}", "--task.folds=3", "--task.ensemble=2", "--train.epochs=4",
                 "--task.select=network",             # the ensemble predicts (the MiniRocket path: its own test)
                 "--train.patience=2", "--model.hidden_size=6", "--train.batch_size=8", "--train.plots=false",
                 "--train.baselines=false"]) == 0
    return tmp / "run"


def test_a_cv_run_records_its_folds_and_its_members(cv_run: Path) -> None:
    cv = json.loads((cv_run / CV_FILE).read_text())
    assert [f["fold"] for f in cv["folds"]] == [0, 1, 2] and 1 <= cv["epochs"] <= 4
    assert all(1 <= f["best_epoch"] <= 4 and 0 <= f["accuracy"] <= 1 for f in cv["folds"])
    assert cv["cv"]["accuracy"] == pytest.approx(sum(f["accuracy"] for f in cv["folds"]) / 3)
    members = [m["accuracy"] for m in cv["members"]["test"]]
    assert len(members) == 2 and "valid" not in cv["members"]
    assert cv["spread"]["test"]["accuracy_range"] == pytest.approx(max(members) - min(members))
    meta = json.loads((cv_run / "meta.json").read_text())["meta"]
    assert meta["ensemble"] == 2
    # task.differences = "auto" (the config's): the folds chose with or without them, and the saved
    # run is the variant they kept
    variants = cv["variants"]
    assert variants["rule"] == "one_se" and list(variants["scores"]) == ["raw", "differences"]
    assert (meta["differences"] is None) == (variants["chosen"] == "raw")
    assert cv["cv"]["accuracy"] == pytest.approx(variants["scores"][variants["chosen"]]["accuracy"])


def _folds(errors: set[int], n: int = 40) -> list[dict]:
    """Two folds' per-sequence results over n sequences, wrong on `errors`."""
    correct = np.array([0.0 if i in errors else 1.0 for i in range(n)])
    return [{"held_out": np.arange(n)[part], "correct": correct[part], "nll": 1.0 - correct[part]}
            for part in (slice(0, n // 2), slice(n // 2, n))]


def test_the_folds_keep_the_simpler_variant_unless_another_is_clearly_better() -> None:
    # the same accuracy, wrong on different sequences: within one standard error, the first (simpler) kept
    chosen, table = choose_variant({"raw": _folds({0, 1}), "differences": _folds({1, 2})}, pool_size=40)
    assert chosen == "raw" and table["raw"]["accuracy"] == table["differences"]["accuracy"] == 0.95
    for n in (40, 67, 150):                   # wrong on one sequence more: 1/n behind, SE exactly 1/n, kept
        chosen, table = choose_variant({"raw": _folds({0}, n), "differences": _folds(set(), n)}, pool_size=n)
        assert chosen == "raw" and table["raw"]["se"] == pytest.approx(1 / n)
    chosen, table = choose_variant({"raw": _folds({0, 1, 4}), "differences": _folds({1, 2})}, pool_size=40)
    assert chosen == "raw" and 0.04 < table["raw"]["se"] < 0.05     # 1 more right of 40 (net): SE 0.044
    chosen, table = choose_variant({"raw": _folds({0, 1, 2}), "differences": _folds({1})}, pool_size=40)
    assert chosen == "differences" and table["raw"]["se"] < 0.05     # 2 more right, none less: SE 0.035
    chosen, table = choose_variant({"raw": _folds(set(range(10))), "differences": _folds(set())}, pool_size=40)
    assert chosen == "differences" and 0.05 < table["raw"]["se"] < 0.1       # 10 more right: clearly better
    assert choose_variant({"raw": _folds(set()), "differences": _folds({3})}, pool_size=40)[0] == "raw"
    assert choose_variant({"as configured": _folds({5})}, pool_size=40)[0] == "as configured"


def test_a_folds_per_sequence_results_are_its_best_epochs(tmp_path: Path) -> None:
    write_ramps(tmp_path / "data", count=6)
    cfg = parse_config("configs/classify_sequences.toml", [f"task.path={tmp_path / 'data'}", "model.hidden_size=5",
                                                          "train.epochs=6", "train.patience=2", "task.folds=3"])
    task = SequenceClassification(**{**cfg.task.settings, "path": str(tmp_path / "data"), "folds": 3})
    data = task.load()
    meta = task.describe(data)
    train, held_out = stratified_folds(data.train.targets, 3, seed=0)[1]
    result = fold_result(task, meta, data.train, train, held_out, cfg, 1)
    assert np.array_equal(result["held_out"], held_out.numpy()) and result["correct"].shape == (len(held_out),)
    assert result["correct"].mean() == pytest.approx(result["accuracy"])       # the restored best weights
    assert result["nll"].mean() == pytest.approx(result["loss"], rel=1e-4)


def test_a_cv_run_that_keeps_the_raw_variant_saves_and_loads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    real = crossval.choose_variant
    monkeypatch.setattr(crossval, "choose_variant",
                        lambda tried, *, pool_size, what="variant": ("raw", real(tried, pool_size=pool_size)[1]))
    write_ramps(tmp_path / "data", count=6)
    run = tmp_path / "run"
    assert main(["classify", "train", "configs/classify_sequences.toml", f"--task.path={tmp_path / 'data'}",
                 f"--out_dir={run}", "--task.folds=2", "--task.ensemble=2", "--train.epochs=3", "--train.patience=2",
                 "--model.hidden_size=5", "--train.plots=false", "--train.baselines=false",
                 "--task.select=network"]) == 0
    assert "cross-validating the variant 'differences'" in capsys.readouterr().out
    assert json.loads((run / "meta.json").read_text())["meta"]["differences"] is None
    saved = rnnkit.load(run)
    assert all(m.differences is None and m.rnn.input_size == 2 for m in saved.model.members)
    assert main(["classify", "eval", str(run), "--split=test"]) == 0
    evaluated = json.loads(capsys.readouterr().out.splitlines()[0])
    cv = json.loads((run / CV_FILE).read_text())
    assert evaluated["accuracy"] == pytest.approx(cv["ensemble"]["test"]["accuracy"])


def test_a_cv_run_loads_without_its_data_and_predicts_the_same(cv_run: Path, request: pytest.FixtureRequest,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    inputs = [torch.randn(9, 2), torch.randn(4, 2).numpy()]
    saved = rnnkit.load(cv_run)
    before, probabilities = saved.predict(inputs), saved.predictor.probabilities(inputs)
    members = [torch.softmax(m(*_padded(inputs))[0], -1) for m in saved.model.members]
    torch.testing.assert_close(probabilities, (members[0] + members[1]) / 2)
    assert not torch.equal(members[0], members[1])                      # two members, trained from two starts
    assert main(["classify", "eval", str(cv_run), "--split=test"]) == 0
    evaluated = json.loads(capsys.readouterr().out.splitlines()[0])
    cv = json.loads((cv_run / CV_FILE).read_text())
    assert evaluated["accuracy"] == pytest.approx(cv["ensemble"]["test"]["accuracy"])
    assert main(["classify", "eval", str(cv_run), "--split=valid"]) == 2       # the folds validated; no valid split
    assert "has no valid split" in capsys.readouterr().err
    shutil.rmtree(cv_run.parent / "data")
    request.getfixturevalue("without_data")
    assert rnnkit.load(cv_run).predict(inputs) == before


@pytest.mark.parametrize("kind", ["onnx", "torchscript"])
def test_a_cv_run_exports_its_ensemble_as_one_graph(cv_run: Path, kind: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    from rnnkit.export import run_file

    out = tmp_path / f"model.{'onnx' if kind == 'onnx' else 'pt'}"
    assert main(["export", str(cv_run), "--format", kind, "--out", str(out)]) == 0
    info = json.loads(out.with_suffix(".json").read_text())
    assert [p["name"] for p in info["graphs"]["model"]["outputs"]] == ["logits"]
    inputs = [torch.randn(9, 2), torch.randn(4, 2)]
    x, _, lengths = _padded(inputs)
    logits = torch.from_numpy(run_file(out, kind, (x, lengths), ["features", "lengths"])[0])
    torch.testing.assert_close(logits.softmax(-1), rnnkit.load(cv_run).predictor.probabilities(inputs),
                               atol=1e-5, rtol=0)
    assert main(["export", str(cv_run), "--streaming", "--out", str(tmp_path / "s.onnx")]) == 2
    assert "seed ensemble of 2 classifiers exports whole sequences only" in capsys.readouterr().err


def _padded(inputs: list) -> tuple[torch.Tensor, None, torch.Tensor]:
    from rnnkit.data.labelled import pad

    x, lengths = pad([torch.as_tensor(s, dtype=torch.float32) for s in inputs])
    return x, None, lengths


def test_a_cv_run_keeps_minirocket_where_the_folds_find_it_clearly_better(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("aeon")
    from rnnkit.tasks.classification.rocket import ROCKET_FILE, RocketRidge

    write_ramps(tmp_path / "data", count=10)
    run = tmp_path / "run"
    # a network of 3 units trained 2 epochs cannot learn the ramps; MiniRocket separates them
    assert main(["classify", "train", "configs/classify_sequences.toml", f"--task.path={tmp_path / 'data'}",
                 f"--out_dir={run}", "--task.folds=3", "--task.ensemble=2", "--train.epochs=2", "--train.patience=1",
                 "--model.hidden_size=3", "--optim.lr=1e-5", "--train.plots=false"]) == 0
    out = capsys.readouterr().out
    assert "cross-validating the alternative 'minirocket_ridge'" in out and "model: 'minirocket_ridge'" in out
    cv = json.loads((run / CV_FILE).read_text())
    assert cv["selection"]["choice"] == "minirocket_ridge"
    assert cv["selection"]["scores"]["minirocket_ridge"]["accuracy"] > cv["selection"]["scores"]["network"]["accuracy"]
    meta = json.loads((run / "meta.json").read_text())["meta"]
    assert meta["selection"] == {"choice": "minirocket_ridge"} and (run / ROCKET_FILE).is_file()
    table = json.loads((run / "baselines.json").read_text())["test"]
    assert table["model"]["accuracy"] == table["minirocket_ridge"]["accuracy"] and "network" in table
    inputs = [torch.randn(9, 2), torch.linspace(0, 2, 15)[:, None].repeat(1, 2)]
    saved = rnnkit.load(run)
    expected = RocketRidge.load(run / ROCKET_FILE).predict_sequences(inputs)
    assert [p.label for p in saved.predict(inputs)] == [saved.predictor.classes[i] for i in expected.tolist()]
    torch.testing.assert_close(saved.predictor.probabilities(inputs).argmax(-1), expected)
    assert main(["classify", "eval", str(run), "--split=test"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["accuracy"] == pytest.approx(table["model"]["accuracy"])
    (run / ROCKET_FILE).unlink()
    with pytest.raises(CheckpointError, match="kept MiniRocket \\+ ridge by cross-validation but has no"):
        rnnkit.load(run).predictor                                            # noqa: B018 - read on use


def test_select_network_scores_no_alternative(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_ramps(tmp_path / "data", count=6)
    run = tmp_path / "run"
    assert main(["classify", "train", "configs/classify_sequences.toml", f"--task.path={tmp_path / 'data'}",
                 f"--out_dir={run}", "--task.folds=2", "--task.ensemble=1", "--train.epochs=2", "--task.select=network",
                 "--model.hidden_size=3", "--train.plots=false", "--train.baselines=false"]) == 0
    assert "alternative" not in capsys.readouterr().out
    assert "selection" not in json.loads((run / CV_FILE).read_text()) and not (run / "rocket.safetensors").exists()
    with pytest.raises(ValueError, match="task.select must be one of"):
        SequenceClassification(path="x", select="best")
