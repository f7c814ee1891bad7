"""The saved run is a contract: a run directory alone (config.toml, meta.json, model.safetensors)
gives back the model and its predictor, with the training data unavailable."""

from __future__ import annotations

import json

import pytest
import torch

import rnnkit
from rnnkit.train.checkpoint import META_FILE


def train(tmp_path, config, *overrides):
    cfg = rnnkit.load_config(config, ["--train.eval_every=0", "--train.plots=false", "--train.batch_size=4", *overrides,
                                      f"--out_dir={tmp_path / 'run'}"])
    rnnkit.run(cfg)
    return tmp_path / "run"


def test_adding_loads_and_predicts_without_its_data(tmp_path, monkeypatch):
    run_dir = train(tmp_path, "configs/adding_lstm.toml", "--train.iterations=3", "--model.hidden_size=8",
                    "--task.train_size=16", "--task.valid_size=8", "--task.test_size=8", "--task.length=10")
    x = torch.rand(4, 10, 2)
    before = rnnkit.load(run_dir).predict(x)
    ragged = [x[0, :7], x[1]]
    before_ragged = rnnkit.load(run_dir).predict(ragged)
    monkeypatch.setattr(rnnkit.tasks.Adding, "load", lambda self: pytest.fail("the data was read"))
    saved = rnnkit.load(run_dir)
    assert saved.cfg.task.name == "adding" and not saved.model.training
    torch.testing.assert_close(saved.predict(x), before, rtol=0, atol=0)
    torch.testing.assert_close(saved.predict(ragged), before_ragged, rtol=0, atol=0)
    torch.testing.assert_close(saved.predict(ragged)[0], saved.predict(x[:1, :7])[0])
    assert before.shape == (4,)


def test_a_run_without_meta_json_is_a_clear_error(tmp_path):
    run_dir = train(tmp_path, "configs/adding_lstm.toml", "--train.iterations=1", "--model.hidden_size=4",
                    "--task.train_size=4", "--task.valid_size=4", "--task.test_size=4", "--task.length=4")
    (run_dir / META_FILE).unlink()
    with pytest.raises(rnnkit.train.CheckpointError, match="older than the saved-run format 1.*rnnkit train"):
        rnnkit.load(run_dir)


def test_meta_json_from_another_format_is_a_clear_error(tmp_path):
    run_dir = train(tmp_path, "configs/adding_lstm.toml", "--train.iterations=1", "--model.hidden_size=4",
                    "--task.train_size=4", "--task.valid_size=4", "--task.test_size=4", "--task.length=4")
    (run_dir / META_FILE).write_text(json.dumps({"format": 99, "task": "adding", "meta": {}}))
    with pytest.raises(rnnkit.train.CheckpointError, match="saved-run format 99.*reads format 1"):
        rnnkit.load(run_dir)


def test_loading_names_the_tasks_a_command_needs(tmp_path):
    run_dir = train(tmp_path, "configs/adding_lstm.toml", "--train.iterations=1", "--model.hidden_size=4",
                    "--task.train_size=4", "--task.valid_size=4", "--task.test_size=4", "--task.length=4")
    with pytest.raises(ValueError, match="is a 'adding' run; translate needs a translation run"):
        rnnkit.load(run_dir, tasks=("translation",), command="translate")
