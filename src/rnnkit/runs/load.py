"""A run directory back as a model and its predictor, without the training data: config.toml
rebuilds the task, meta.json (`Task.describe` at training time) and model.safetensors rebuild the
model. Every command on a finished run and the Python API load runs this one way.

    saved = rnnkit.load("runs/imdb_lstm")
    saved.predict(["a film worth seeing"])
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from torch import nn

from ..config import RunConfig
from ..tasks import build_task
from ..tasks.base import ChoosesAfterTraining, HasBaselines, Meta, Predictor, ReadsRunFiles
from ..train import CheckpointError
from ..train.checkpoint import CONFIG_FILE, META_FILE, META_FORMAT, check_run_dir, load_weights, write_meta
from .baselines import check_classes, check_split, compare
from .configs import load_config


@dataclass(frozen=True)
class SavedRun:
    """A trained run: its config, task, metadata and model (eval mode, on the CPU)."""

    cfg: RunConfig
    task: Any
    meta: Meta
    model: nn.Module
    run_dir: Path | None = None

    @cached_property
    def predictor(self) -> Predictor:
        """The task's predictor over this model: user inputs in, the task's outputs out."""
        if self.run_dir is not None and isinstance(self.task, ReadsRunFiles):
            return self.task.run_predictor(self.model, self.meta, self.run_dir)
        return self.task.predictor(self.model, self.meta)

    def predict(self, inputs: Any, **options: Any) -> Any:
        return self.predictor.predict(inputs, **options)


def load(run_dir: str | Path, *, tasks: Sequence[str] = (), command: str = "this") -> SavedRun:
    """The run in `run_dir`, rebuilt from its files alone. `tasks`: the task names `command`
    accepts (empty: any), so a wrong kind of run is an error that says which is needed."""
    cfg = read_config(run_dir)
    if tasks and cfg.task.name not in tasks:
        raise ValueError(f"{run_dir} is a {cfg.task.name!r} run; {command} needs a {' or '.join(tasks)} run")
    task, meta = build_task(cfg.task), read_meta(run_dir)
    model = load_weights(task.build_model(cfg.model, meta), run_dir)
    return SavedRun(cfg, task, meta, model.eval(), Path(run_dir))


def evaluate_run(run_dir: str | Path, split: str = "valid", *, baselines: bool = False) -> dict[str, Any]:
    """Metrics of a saved run's model on one of its task's splits ("valid" or "test"), by the
    task's own `evaluate` (this reads the split's data, checked against RUN_DIR/split.json; the
    model still comes from the run). `baselines=True`: {"model": metrics, baseline: metrics, ...}
    with the task's baselines fitted on the training split and scored on the same one."""
    saved = load(run_dir)
    data = saved.task.load()
    if split not in ("train", "valid", "test") or getattr(data, split, None) is None:
        raise ValueError(f"split must be one of train, valid, test (one the task has), got {split!r}")
    check_split(run_dir, data)
    check_classes(run_dir, saved.meta, data)
    if baselines and not isinstance(saved.task, HasBaselines):
        raise ValueError(f"the {saved.cfg.task.name!r} task has no baselines; run `rnnkit eval {run_dir}` without "
                         "--baselines")
    table = compare(saved.task, saved.model, data, saved.cfg, [split], baselines=baselines,
                    predictor=saved.predictor)[split]
    return table if baselines else table["model"]


def select_again(run_dir: str | Path, *, tasks: Sequence[str], command: str, **task_changes: Any) -> Meta:
    """A saved run's validated selection (`ChoosesAfterTraining.choose`) made again on its own
    validation split with its saved network, the task's fields `task_changes` replaced (e.g.
    forecasting's select_rule): for a run trained before its task's selection, or one to choose
    by another rule. meta.json is rewritten (atomically) and returned; the weights are not touched."""
    saved = load(run_dir, tasks=tasks, command=command)
    if not isinstance(saved.task, ChoosesAfterTraining):
        raise ValueError(f"a {saved.cfg.task.name!r} run chooses nothing after training")
    task = dataclasses.replace(saved.task, **task_changes)
    data = task.load()
    check_split(run_dir, data)                         # the examples the run was trained and validated on
    check_classes(run_dir, saved.meta, data)
    meta = task.choose(saved.model, data, {k: v for k, v in saved.meta.items() if k != "selection"}, Path(run_dir))
    if "selection" not in meta:
        raise ValueError(f"{run_dir} has nothing to select: its task keeps the network alone (task.select = "
                         "'network', or forecasting's fixed task.combine); train with task.select = 'validate'")
    write_meta(run_dir, saved.cfg.task.name, meta)
    return meta


def read_config(run_dir: str | Path) -> RunConfig:
    path = check_run_dir(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no {CONFIG_FILE}; is it a run directory?")
    return load_config(path)


def read_meta(run_dir: str | Path) -> Meta:
    """RUN_DIR/meta.json's task metadata, checked for its format."""
    path = check_run_dir(run_dir) / META_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no {META_FILE}: it is older than the saved-run format {META_FORMAT} "
                              f"(or not a run directory); train it again with: rnnkit train "
                              f"{Path(run_dir) / CONFIG_FILE}")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}); train the run again") from None
    if not isinstance(saved, dict) or saved.get("format") != META_FORMAT:
        found = saved.get("format") if isinstance(saved, dict) else None
        raise CheckpointError(f"{path} has saved-run format {found}, but this rnnkit reads format {META_FORMAT}; "
                              "load it with the rnnkit version that wrote it, or train it again")
    return saved["meta"]
