"""Optuna plumbing for search.py and worker.py: storages, samplers and pruners by name, and the
file locks that keep workers on one machine from overrunning the budget or sharing a grid point."""

from __future__ import annotations

import fcntl
import inspect
import random
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..io.fields import ConfigError
from .space import TuneConfig

JOURNAL_FILE = "study.journal"


def open_storage(url: str, directory: Path) -> Any:
    """The study's storage: a journal file in `directory` by default; sqlite:///, postgresql://,
    mysql:// (through SQLAlchemy, with heartbeats so a dead worker's trial is retried); redis://
    (a journal in Redis); any other string is a journal file path. Checked by connecting."""
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend, JournalRedisBackend

    try:
        if not url or "://" not in url:
            path = Path(url) if url else directory / JOURNAL_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            _repair(path)
            storage = JournalStorage(JournalFileBackend(str(path), lock_obj=FileLock(f"{path}.flock")))
        elif url.startswith("redis://"):
            storage = JournalStorage(JournalRedisBackend(url))
        else:
            engine = {"connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") else {}
            url = _driver(url)
            renamed = "heartbeat_stale_trial_callback" in inspect.signature(RDBStorage).parameters   # optuna 4.9
            callback = {"heartbeat_stale_trial_callback" if renamed else "failed_trial_callback": retry(max_retry=2)}
            for attempt in range(6):                        # processes starting together on a fresh database
                try:                                        # race to create its tables: the losers try again
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")     # heartbeats are "experimental"
                        storage = RDBStorage(url, engine_kwargs=engine, heartbeat_interval=30, grace_period=120,
                                             **callback)
                    break
                except Exception as error:
                    if attempt == 5 or type(error).__name__ not in ("IntegrityError", "ProgrammingError"):
                        raise
                    time.sleep(random.uniform(0.2, 1.0))
        storage.get_all_studies()
    except Exception as error:                              # each driver raises its own kind
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"cannot open the storage {url or str(directory / JOURNAL_FILE)!r}: {first}") from None
    return storage


def _driver(url: str) -> str:
    """postgresql:// means psycopg 3 to SQLAlchemy 2.1; use psycopg2 when only that is installed."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


class FileLock:
    """An exclusive flock, released once (release() is idempotent). The kernel drops it when its
    process dies, so a killed worker never leaves a stale lock behind; as the journal's lock it
    replaces Optuna's symlink lock (study.journal.lock, which optuna-dashboard still uses for its
    rare writes), which waits 30 s for a dead holder."""

    def __init__(self, path: str) -> None:
        self.path, self.file = path, None

    def acquire(self) -> bool:
        self.file = open(self.path, "a")                    # noqa: SIM115 (closed in release)
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        if self.file is not None:
            self.file.close()                               # closing drops the flock
            self.file = None


def _repair(path: Path) -> None:
    """Cuts a journal back to its last complete line: a kill in the middle of a write must not
    leave a fragment that the next append would bury in the middle of the file."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    lock = FileLock(f"{path}.flock")                       # other workers may be appending
    lock.acquire()
    try:
        with open(path, "rb+") as file:
            data = file.read()
            if not data.endswith(b"\n"):
                file.truncate(data.rfind(b"\n") + 1)
    finally:
        lock.release()


def retry(max_retry: int | None = None) -> Any:
    """Optuna's callback that queues a failed trial again with its parameters (renamed in 4.9)."""
    from optuna import storages

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # "experimental" in 4.9
        if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):
            return storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
        return storages.RetryFailedTrialCallback(max_retry=max_retry)


def sampler(spec: TuneConfig, worker: int = 0, existing: int = 0) -> Any:
    """The sampler for worker `worker` of a study that already holds `existing` trials."""
    import numpy as np
    import optuna

    if spec.sampler == "grid":                              # one seed: it orders the grid that workers share
        return optuna.samplers.GridSampler(spec.grid(), seed=spec.seed)
    seed = spec.seed                                        # a fresh single-worker study replays exactly;
    if worker or existing:                                  # other workers and resumed studies must not
        seed = int(np.random.SeedSequence([spec.seed, worker, existing]).generate_state(1)[0])   # repeat points
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "tpe":                               # Bergstra et al. 2011
        with warnings.catch_warnings():                     # constant_liar (parallel workers) is "experimental"
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=spec.startup_trials, constant_liar=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=spec.startup_trials)


def pruner(spec: TuneConfig) -> Any:
    import optuna

    warmup = spec.prune_warmup or "auto"
    return {
        "none": lambda: optuna.pruners.NopPruner(),
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=spec.prune_startup,
                                                      n_warmup_steps=spec.prune_warmup),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=warmup),   # Li et al. 2018
        "successive_halving": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=warmup),
    }[spec.pruner]()


def requeue_stale(study: Any, directory: Path) -> None:
    """After a kill: trials left running (or interrupted) by dead workers of the embedded study
    are failed and queued again with their parameters (a grid point keeps its grid id)."""
    from optuna.trial import TrialState

    try:
        with lock(directory / "workers.lock", shared=False, wait=False):
            trials = study.get_trials(deepcopy=False)
            retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
            for t in trials:
                interrupted = t.state == TrialState.FAIL and t.user_attrs.get("interrupted")
                if (t.state == TrialState.RUNNING or interrupted) and t.number not in retried:
                    if t.state == TrialState.RUNNING:
                        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                    retry()(study, t)
    except BlockingIOError:
        raise ConfigError(f"workers of {directory} are still running; wait for them or stop them first") from None


def ask_lock(spec: TuneConfig, directory: Path) -> Path:
    """One lock per study on this machine, whatever the tuning directory of each process."""
    if not spec.storage:
        return directory / "ask.lock"
    import hashlib
    import tempfile

    key = hashlib.sha1(f"{spec.storage}\n{spec.study}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"rnnkit-tune-{key}.lock"


@contextmanager
def lock(path: Path, *, shared: bool, wait: bool = True) -> Iterator[None]:
    with open(path, "a") as file:
        fcntl.flock(file, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB))
        yield
