"""The workers of a study: `work()` runs trials until the budget or the time is spent, each one a
`run()` of the base config with the trial's suggested overrides; `spawn()` starts several worker
processes on this machine (`tune.workers`)."""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import torch

from ..config import RunConfig
from ..io import toml
from ..runs import run
from ..runs.configs import replace
from ..train import Interrupted, NonFiniteError
from .space import SETUP_FILE, Choice, Range, TuneConfig, load_tune, objective, overrides
from .study import FileLock, ask_lock, lock, open_storage, pruner, sampler


def work(directory: str, worker: int) -> None:
    """One worker: runs trials of the study in `directory` until the budget or the time is spent."""
    import optuna

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
                run_trial = lambda trial, gate=gate: _objective(trial, base, spec, Path(directory), gate)
                study.optimize(run_trial, n_trials=1, catch=(NonFiniteError, ValueError))   # a bad point fails alone
            finally:
                gate.release()


def _objective(trial: Any, base: RunConfig, spec: TuneConfig, directory: Path, gate: FileLock) -> float:
    import optuna

    gate.release()
    if trial.user_attrs.get("interrupted"):
        trial.set_user_attr("interrupted", False)           # a retry of an interrupted trial, copied with its attrs
    values = {key: _suggest(trial, key, entry) for key, entry in spec.space.items()}
    run_dir = directory / "trials" / f"{trial.number:04d}"
    trial.set_user_attr("run_dir", str(run_dir))
    cfg = replace(base, overrides(values) + [f"--out_dir={toml.value(str(run_dir))}"])
    metric, _ = objective(base, spec)
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


def _suggest(trial: Any, key: str, entry: Range | Choice) -> Any:
    if isinstance(entry, Choice):
        return trial.suggest_categorical(key, list(entry.choices))
    if entry.integer:
        return trial.suggest_int(key, int(entry.low), int(entry.high), step=int(entry.step or 1), log=entry.log)
    return trial.suggest_float(key, entry.low, entry.high, step=entry.step or None, log=entry.log)


def _counted(study: Any) -> int:
    """Trials that use the budget: all but waiting ones and failed ones that were retried."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return sum(t.state != TrialState.WAITING and t.number not in retried for t in trials)


def spawn(directory: Path, workers: int) -> None:
    """Runs `workers` worker processes on the study in `directory` and waits for them all."""
    context = multiprocessing.get_context("spawn")          # fork would copy torch's thread pools
    threads = max(1, (os.cpu_count() or 1) // workers)
    processes = [context.Process(target=_worker_main, args=(str(directory), i, threads)) for i in range(workers)]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        for process in processes:                           # they got the SIGINT too and save their trial
            process.join()
        raise Interrupted(f"tuning interrupted; continue with: rnnkit tune --resume {directory}") from None
    failed = [p.exitcode for p in processes if p.exitcode]
    if failed:
        how = ", ".join(f"killed by {signal.Signals(-c).name}" if c < 0 and -c in signal.valid_signals() else
                        f"exit code {c}" for c in failed)
        hint = " (SIGKILL often means out of memory: fewer --workers or a smaller model)" if -signal.SIGKILL in failed \
            else ""
        raise WorkersFailed(f"{len(failed)} of {workers} tuning workers failed ({how}){hint}; finished trials are "
                            f"kept: see the messages above, then rnnkit tune --resume {directory}")


class WorkersFailed(RuntimeError):
    """Some tuning worker processes ended with an error or a signal; the study keeps their
    finished trials and `rnnkit tune --resume` goes on."""


def _worker_main(directory: str, worker: int, threads: int) -> None:
    """A spawned process's entry point (a module-level function: spawn finds it by name)."""
    torch.set_num_threads(threads)
    work(directory, worker)
