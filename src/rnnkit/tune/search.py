"""Hyperparameter search with Optuna over any run config: `tune()` and `rnnkit tune`.

    from rnnkit.tune import tune
    summary = tune("configs/tune_esn_mackey_glass.toml", ["--tune.trials=30"])
    summary = tune(resume="runs/esn_mackey_glass_small-tune")     # after a kill: no finished trial lost

The config's [tune] section (see space.py) says what to search. A trial is a list of dotted
overrides of the base config, trained by `run()` into DIR/trials/NNNN with the config's own seed
(worker.py); pruners see every validation through fit's `on_eval` hook. The study lives in a
journal file in the tuning directory DIR unless `tune.storage` names a database that several
processes or machines share. Workers on one machine create trials under a file lock, so they never
overrun the trial budget or draw the same grid point (workers on other machines may overrun it by
one trial each, as with Optuna's own budget callback). Optuna is imported inside functions only
(here, study.py, worker.py, report.py and plots/tune.py), never when rnnkit is imported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import RunConfig, to_dict
from ..data.batch import batches
from ..io import toml
from ..io.fields import ConfigError, check_choice
from ..runs import seed_everything
from ..tasks import build_task
from ..train.loop import evaluate
from .report import report
from .space import SETUP_FILE, TuneConfig, load_tune, objective, space_toml
from .study import open_storage, pruner, requeue_stale, sampler
from .worker import spawn, work


def tune(config: str | Path | None = None, overrides: Sequence[str] = (), *, resume: str | Path | None = None
         ) -> dict[str, Any]:
    """Runs (or, with `resume=DIR`, continues) a study and writes its report into the tuning
    directory; returns a summary: directory, best value and params, trial counts."""
    base, spec, directory = _setup(config, overrides, resume)
    storage = open_storage(spec.storage, directory)
    study = _create_study(base, spec, directory, storage)
    if resume is not None and not spec.storage:
        requeue_stale(study, directory)
    if spec.workers == 1:
        work(str(directory), 0)
    else:
        spawn(directory, spec.workers)
    return report(study, base, spec, directory)


def _setup(config: str | Path | None, overrides: Sequence[str], resume: str | Path | None
           ) -> tuple[RunConfig, TuneConfig, Path]:
    if resume is not None:
        directory = Path(resume)
        if config is not None:
            raise ConfigError("give either CONFIG or --resume DIR, not both (a study resumes with its own config)")
        if not (directory / SETUP_FILE).is_file():
            raise ConfigError(f"{directory} has no {SETUP_FILE}; is it a tuning directory written by rnnkit tune?")
        untuned = [o for o in overrides if not o.removeprefix("--").startswith("tune.")]
        if untuned:
            raise ConfigError(f"a resumed study keeps its base config; only --tune.* overrides apply, got {untuned}")
        base, spec = load_tune(directory / SETUP_FILE, overrides)
        return base, spec, directory
    if config is None:
        raise ConfigError("tune needs a CONFIG file with a [tune] section, or --resume DIR")
    base, spec = load_tune(config, overrides)
    directory = Path(spec.out_dir or f"{base.out_dir}-tune")
    if (directory / SETUP_FILE).exists():
        raise ConfigError(f"{directory} already holds a study; continue it with rnnkit tune --resume {directory}, "
                          "or choose another --out_dir")
    _check_metric(base, spec)
    return base, dataclasses.replace(spec, out_dir=str(directory), study=spec.study or directory.name), directory


def _check_metric(base: RunConfig, spec: TuneConfig) -> None:
    """The metric must be one the task reports: evaluated once on the untrained model's first
    validation batch, before any trial runs."""
    metric, _ = objective(base, spec)
    if not metric:
        return                                              # the task's first metric, whatever it is
    seed_everything(base.seed)
    task = build_task(base.task)
    data = task.load()
    model = task.build_model(base.model, task.describe(data))
    size = len(data.valid) if task.carries_state else base.train.batch_size
    reported = evaluate(model, task, [next(iter(batches(data.valid, size)))])
    check_choice("tune.metric" if spec.metric else "train.metric", metric, list(reported))


def _create_study(base: RunConfig, spec: TuneConfig, directory: Path, storage: Any) -> Any:
    import optuna

    directory.mkdir(parents=True, exist_ok=True)
    text = toml.dumps(to_dict(base)) + "\n" + space_toml(spec)
    _toml_write(directory / SETUP_FILE, text)                # on resume: keeps --tune.* overrides (a larger budget)
    _, direction = objective(base, spec)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(storage=storage, study_name=spec.study, direction=direction,
                               sampler=sampler(spec, 0), pruner=pruner(spec), load_if_exists=True)


def _toml_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
