"""`train.method = "ridge"`: an echo state network trained in closed form, its readout fitted by
ridge regression over the training split (models/ridge.py; Lukoševičius 2012, section 4.1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from torch import nn

from ..config import RunConfig
from ..data.batch import Splits, batches
from ..io.files import atomic_write
from .checkpoint import WEIGHTS_FILE, save_weights
from .loop import evaluate
from .protocols import ChoosesEncoder, Metrics, PlotsAtEnd, RidgeReadout, RidgeTrained, TrainedTask


def fit_ridge(model: nn.Module, task: TrainedTask, data: Splits, cfg: RunConfig, *,
              run_dir: str | Path | None = None, resume: bool = False,
              on_eval: Callable[[int, Metrics], None] | None = None) -> Metrics:
    """`train.method = "ridge"`: the closed-form readout of an echo state network (the task's
    model), accumulated over every training batch, with the task's `alpha` and `washout`. Writes
    the run directory's weights and metrics like the gradient loop, and the task's plot if any;
    prints the validation and test metrics."""
    if not isinstance(task, RidgeTrained) or not isinstance(model, RidgeReadout):
        hint = " (set task.encoder = 'reservoir')" if isinstance(task, ChoosesEncoder) else ""
        raise ValueError(f"train.method = 'ridge' fits the readout of an echo state network; this run's model is "
                         f"a {type(model).__name__}{hint}, or use train.method = 'gradient'")
    # A series task discards its first `washout` states; a classifier pools whole sequences (washout 0).
    washout = {"washout": task.washout} if task.washout else {}
    size = len(data.train) if task.carries_state else cfg.train.batch_size
    ridge = model.new_ridge(alpha=task.alpha)
    for batch in batches(data.train, size):
        model.accumulate(ridge, batch.inputs, batch.targets, lengths=batch.lengths, **washout)
    model.set_readout(ridge)
    metrics = evaluate(model, task, batches(data.valid, size))
    if on_eval is not None:
        on_eval(1, metrics)
    if run_dir is not None:
        run_dir = Path(run_dir)
        save_weights(run_dir / WEIGHTS_FILE, model, 1)
        line = json.dumps({"iteration": 1, "samples": ridge.samples, **metrics}) + "\n"
        atomic_write(run_dir / "metrics.jsonl", lambda tmp: tmp.write_text(line))
        if cfg.train.plots and isinstance(task, PlotsAtEnd):
            task.plot(model, data, run_dir / "plots")
    print(json.dumps({"split": "valid", **metrics}), flush=True)
    if data.test is not None:                  # a closed-form fit takes no decisions on valid
        print(json.dumps({"split": "test", **evaluate(model, task, batches(data.test, size))}), flush=True)
    return metrics
