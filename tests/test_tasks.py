"""Tasks: the adding problem's data, its baseline, and a short run with a checkpoint round trip."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.io.fields import ConfigError
from rnnkit.runs import load, run
from rnnkit.runs.configs import load_config
from rnnkit.tasks import TASKS, build_task
from rnnkit.tasks.adding import generate


def test_adding_data():
    batch = generate(2000, 30, generator=torch.Generator().manual_seed(0))
    values, markers = batch.inputs.unbind(-1)                                # (N, T) each
    assert batch.inputs.shape == (2000, 30, 2) and batch.lengths is None
    assert (markers.sum(1) == 2).all() and (markers[:, :15].sum(1) == 1).all()
    torch.testing.assert_close((values * markers).sum(1), batch.targets)
    assert abs(((batch.targets - 1) ** 2).mean().item() - 1 / 6) < 0.01      # predicting 1 scores 0.167
    padded = generate(500, 30, min_length=10, generator=torch.Generator().manual_seed(0))
    steps = torch.arange(30)[None, :]
    assert ((padded.inputs[..., 1] > 0) <= (steps < padded.lengths[:, None])).all()
    assert (padded.inputs[..., 0][steps >= padded.lengths[:, None]] == 0).all()


def test_same_seed_same_data_and_bad_settings():
    a, b = TASKS["adding"](length=5).load(), TASKS["adding"](length=5).load()
    assert torch.equal(a.train.inputs, b.train.inputs) and torch.equal(a.valid.targets, b.valid.targets)
    with pytest.raises(ConfigError, match="task.min_length must be 0"):
        load_config(None, ["--task.min_length=1"])


@pytest.mark.parametrize("extra", [[], ["--task.min_length=4", "--model.cell=gru", "--model.num_layers=2"]])
def test_a_short_run_and_a_checkpoint_round_trip(tmp_path, extra):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = load_config(None, ["--task.length=8", "--task.train_size=32", "--task.valid_size=16",
                                 "--model.hidden_size=8", "--train.batch_size=8", "--train.iterations=3",
                                 "--train.plots=false", f"--out_dir={tmp_path / 'run'}", *extra])
        metrics = run(cfg)
        saved = load(tmp_path / "run")
    finally:
        torch.set_num_threads(threads)
    assert math.isfinite(metrics["mse"]) and saved.cfg.model == cfg.model
    task = build_task(saved.cfg.task)
    with torch.no_grad():
        assert task.evaluate(saved.model, [task.load().valid]) == pytest.approx(metrics)
