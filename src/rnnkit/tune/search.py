"""Hyperparameter search with Optuna over any run config: `tune()` and `rnnkit tune`.

    from rnnkit.tune import tune
    summary = tune("configs/tune_esn_mackey_glass.toml", ["--tune.trials=30"])
    summary = tune(resume="runs/esn_mackey_glass_small-tune")     # after a kill: no finished trial lost

The config's [tune] section (see tune_space.py) says what to search. A trial is a list of dotted
overrides of the base config, trained by `run()` into DIR/trials/NNNN with the config's own seed;
pruners see every validation through fit's `on_eval` hook. The study lives in a journal file in the
tuning directory DIR unless `tune.storage` names a database that several processes or machines
share. Workers on one machine create trials under a file lock, so they never overrun the trial
budget or draw the same grid point (workers on other machines may overrun it by one trial each, as
with Optuna's own budget callback). Optuna is imported inside functions only (here, _tune_study.py
and _tune_report.py), never when rnnkit is imported.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import RunConfig, parse_override, to_dict
from ..io import toml as _toml
from ..io.fields import ConfigError, check_choice
from ..runs.configs import load_config, replace
from ..tasks import build_task
from .space import TuneConfig, space_toml, tune_config
from .study import FileLock, ask_lock, lock, open_storage, pruner, requeue_stale, sampler, spawn

if sys.version_info >= (3, 11):
    import tomllib
else:                                                       # pragma: no cover
    import tomli as tomllib

SETUP_FILE = "tune.toml"


def tune(config: str | Path | None = None, overrides: Sequence[str] = (), *, resume: str | Path | None = None
         ) -> dict[str, Any]:
    """Runs (or, with `resume=DIR`, continues) a study and writes its report into the tuning
    directory; returns a summary: directory, best value and params, trial counts."""
    from .report import report

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
    return base, _with(spec, out_dir=str(directory), study=spec.study or directory.name), directory


def load_tune(path: str | Path, overrides: Sequence[str] = ()) -> tuple[RunConfig, TuneConfig]:
    """The base run config and its [tune] section, with `--section.key=value` overrides applied
    (`--tune.*` ones to the [tune] section)."""
    is_tune = lambda o: o.removeprefix("--").startswith("tune.")
    base = load_config(path, [o for o in overrides if not is_tune(o)])
    raw = tomllib.loads(Path(path).read_text()).get("tune", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: tune must be a section: [tune]")
    for override in filter(is_tune, overrides):
        key, value = parse_override(override)
        raw[key.removeprefix("tune.")] = value
    spec = tune_config(raw, base)
    if spec.sampler == "grid":
        size = math.prod(len(values) for values in spec.grid().values())
        if spec.trials > size:
            print(f"tune.trials = {spec.trials} but the grid has {size} points; running {size}", flush=True)
        spec = _with(spec, trials=min(spec.trials or size, size))
    return base, spec


def _with(spec: TuneConfig, **changes: Any) -> TuneConfig:
    import dataclasses

    return dataclasses.replace(spec, **changes)


def _metric(base: RunConfig, spec: TuneConfig) -> tuple[str, str]:
    return spec.metric or base.train.metric, spec.direction or base.train.direction


def _check_metric(base: RunConfig, spec: TuneConfig) -> None:
    """The metric must be one the task reports: evaluated once on the untrained model's first
    validation batch, before any trial runs."""
    from ..data.batch import batches
    from ..runs import seed_everything
    from ..train.loop import evaluate

    metric, _ = _metric(base, spec)
    if not metric:
        return                                              # the task's first metric, whatever it is
    seed_everything(base.seed)
    task = build_task(base.task)
    data = task.load()
    model = task.build_model(base.model, data)
    size = len(data.valid) if task.carries_state else base.train.batch_size
    reported = evaluate(model, task, [next(iter(batches(data.valid, size)))])
    check_choice("tune.metric" if spec.metric else "train.metric", metric, list(reported))


def _create_study(base: RunConfig, spec: TuneConfig, directory: Path, storage: Any) -> Any:
    import optuna

    directory.mkdir(parents=True, exist_ok=True)
    text = _toml.dumps(to_dict(base)) + "\n" + space_toml(spec)
    _toml_write(directory / SETUP_FILE, text)                # on resume: keeps --tune.* overrides (a larger budget)
    _, direction = _metric(base, spec)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(storage=storage, study_name=spec.study, direction=direction,
                               sampler=sampler(spec, 0), pruner=pruner(spec), load_if_exists=True)


def _toml_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def work(directory: str, worker: int) -> None:
    """One worker: runs trials of the study in `directory` until the budget or the time is spent."""
    import optuna

    from ..train import NonFiniteError

    base, spec = load_tune(Path(directory) / SETUP_FILE)
    storage = open_storage(spec.storage, Path(directory))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=spec.study, storage=storage, pruner=pruner(spec))
    study.sampler = sampler(spec, worker, len(study.get_trials(deepcopy=False)))
    deadline = time.monotonic() + (spec.timeout or math.inf)
    with lock(Path(directory) / "workers.lock", shared=True):
        while time.monotonic() < deadline:
            gate = FileLock(str(ask_lock(spec, Path(directory))))   # held from the budget check until the trial exists
            gate.acquire()
            try:
                if _counted(study) >= spec.trials > 0:
                    break
                objective = lambda trial, gate=gate: _objective(trial, base, spec, Path(directory), gate)
                study.optimize(objective, n_trials=1, catch=(NonFiniteError, ValueError))   # a bad point fails alone
            finally:
                gate.release()


def _objective(trial: Any, base: RunConfig, spec: TuneConfig, directory: Path, gate: FileLock) -> float:
    import optuna

    from ..runs import run

    gate.release()
    if trial.user_attrs.get("interrupted"):
        trial.set_user_attr("interrupted", False)           # a retry of an interrupted trial, copied with its attrs
    values = {key: _suggest(trial, key, entry) for key, entry in spec.space.items()}
    run_dir = directory / "trials" / f"{trial.number:04d}"
    trial.set_user_attr("run_dir", str(run_dir))
    cfg = replace(base, overrides(values) + [f"--out_dir={_toml._value(str(run_dir))}"])
    metric, _ = _metric(base, spec)
    last = cfg.train.iterations if cfg.train.epochs == 0 and cfg.train.method == "gradient" else -1
    pruned: list[int] = []

    def on_eval(iteration: int, metrics: dict[str, float]) -> bool:
        trial.report(metrics[metric or next(iter(metrics))], iteration)
        if cfg.train.method == "gradient" and iteration != last and trial.should_prune():
            pruned.append(iteration)
            return True                                     # fit stops here, as early stopping would
        return False

    try:
        metrics = run(cfg, on_eval=on_eval)
    except KeyboardInterrupt:
        trial.set_user_attr("interrupted", True)            # --resume runs this trial again
        raise
    if pruned:
        raise optuna.TrialPruned(f"pruned at iteration {pruned[0]}")
    return metrics[metric or next(iter(metrics))]


def _suggest(trial: Any, key: str, entry: Any) -> Any:
    from .space import Choice

    if isinstance(entry, Choice):
        return trial.suggest_categorical(key, list(entry.choices))
    if entry.integer:
        return trial.suggest_int(key, int(entry.low), int(entry.high), step=int(entry.step or 1), log=entry.log)
    return trial.suggest_float(key, entry.low, entry.high, step=entry.step or None, log=entry.log)


def overrides(values: dict[str, Any]) -> list[str]:
    """A trial's parameters as command-line overrides: {"optim.lr": 0.01} -> ["--optim.lr=0.01"]."""
    return [f"--{key}={_toml._value(value)}" for key, value in values.items()]


def _counted(study: Any) -> int:
    """Trials that use the budget: all but waiting ones and failed ones that were retried."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return sum(t.state != TrialState.WAITING and t.number not in retried for t in trials)


