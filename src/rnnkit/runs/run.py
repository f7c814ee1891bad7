"""A config becomes a run directory: config.toml (fully resolved), meta.json (what the task's data
says the model needs), then the training method's checkpoints, logs and plots.

    metrics = rnnkit.run(rnnkit.load_config("configs/adding_lstm.toml"))
    metrics = rnnkit.run(resume="runs/adding_lstm")          # on from the last checkpoint

Under torchrun (WORLD_SIZE > 1) `run` joins the process group first: gloo on CPU, NCCL on GPU.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from filelock import FileLock, Timeout

from ..config import RunConfig, to_dict
from ..io import toml
from ..io.files import atomic_write
from ..kernels import workspace
from ..tasks import build_task
from ..tasks.base import (
    BUILT_FILE,
    WARM_START_DIR,
    ChoosesAfterTraining,
    HasBaselines,
    MeasuredWhileChoosing,
    Pretrained,
    ReadsRunFiles,
    WarmStarted,
)
from ..train import METHODS
from ..train.checkpoint import CONFIG_FILE, STATE_FILE, check_fits, read_state, write_meta
from ..train.device import resolve_device
from ..train.stream import total_iterations
from .baselines import report, write_split
from .configs import replace
from .crossval import cross_validated, fit_cross_validated
from .load import read_config, read_meta
from .memory import check_memory


def run(cfg: RunConfig | None = None, *, resume: str | Path | None = None, overrides: Sequence[str] = (),
        on_eval: Callable[[int, dict[str, float]], bool | None] | None = None) -> dict[str, float]:
    """Trains `cfg` in a new run directory (cfg.out_dir, or out_dir-2, -3... when that already
    holds a run), or continues the run in `resume` exactly where its last checkpoint left it."""
    saved, warming = None, False
    if resume is not None:
        # stopped while warm-starting (before the run's own first checkpoint): that stage resumes
        warming = (Path(resume) / WARM_START_DIR).is_dir() and not (Path(resume) / STATE_FILE).is_file()
        saved = None if warming else read_state(resume)       # fail early on a bad checkpoint
        cfg = replace(read_config(resume), overrides)
    elif cfg is None:
        raise ValueError("run() needs a RunConfig or resume=RUN_DIR")
    with distributed(cfg):
        rank = dist.get_rank() if dist.is_initialized() else 0
        seed_everything(cfg.seed)
        task = build_task(cfg.task)
        if resume is None and isinstance(task, Pretrained):
            build_pretrained(task, cfg.seed)
        data = task.load()
        # A resumed run keeps the metadata its weights were built with, whatever the data says now
        # (re-describing today's data could give another vocabulary of the same size: silently wrong).
        meta = read_meta(resume) if resume is not None else task.describe(data)
        gradient = cfg.train.method == "gradient"
        device = resolve_device(cfg.train.device, 1, cfg.train.amp) if gradient else torch.device("cpu")
        check_memory(lambda: task.build_model(cfg.model, meta), device,
                     "the [model] settings")                   # before allocating: a typo'd size is refused at once
        model = task.build_model(cfg.model, meta)
        if saved is not None:
            check_fits(model, saved, resume)                  # before config.toml is rewritten
        small = cross_validated(task, meta, cfg)              # task.protocol = "cv": folds, then an ensemble
        if gradient and not small:                            # say what is wrong before writing any file
            total_iterations(cfg.train, data, task)
        run_dir = Path(resume) if resume is not None else _new_run_dir(cfg.out_dir, rank)
        cfg = replace(cfg, [f"out_dir={run_dir}"])            # the directory this run really uses
        if rank == 0:
            atomic_write(run_dir / CONFIG_FILE, lambda tmp: tmp.write_text(toml.dumps(to_dict(cfg))))
            if resume is None:
                write_meta(run_dir, cfg.task.name, meta)
                write_split(run_dir, cfg.task.name, data)
        if (resume is None or warming) and isinstance(task, WarmStarted):
            # in the run directory, so that a run stopped here resumes with `--resume RUN_DIR` too
            task.warm_start(model, meta, data, run_dir / WARM_START_DIR)
        if rank:
            torch.manual_seed(cfg.seed + rank)                # own dropout masks per process
        method = functools.partial(fit_cross_validated, meta=meta) if small else METHODS[cfg.train.method]
        metrics = method(model, task, data, cfg, run_dir=run_dir, resume=saved is not None, on_eval=on_eval)
        if small:
            meta = read_meta(run_dir)                         # the variant the folds kept (runs/crossval.py)
        if rank == 0:
            shutil.rmtree(run_dir / WARM_START_DIR, ignore_errors=True)   # its result is in the run's weights now
        if rank == 0 and isinstance(task, ChoosesAfterTraining):   # e.g. forecasting's validated selection
            meta = task.choose(model, data, meta, run_dir)
            write_meta(run_dir, cfg.task.name, meta)
        if rank == 0 and cfg.train.baselines and isinstance(task, HasBaselines):
            # the run's own predictions (a text run's validated choice), on a CPU copy as a loaded run has it,
            # unless choosing measured them already
            measured = task.measured(meta) if isinstance(task, MeasuredWhileChoosing) else {}
            own = (task.run_predictor(copy.deepcopy(model).cpu().eval(), meta, run_dir)
                   if isinstance(task, ReadsRunFiles) and meta.get("selection") and not measured else None)
            report(run_dir, task, model, data, cfg, predictor=own, measured=measured)
        workspace.release()      # the native loops' reused arrays: a run that ends gives them back to the system
        return metrics


def build_pretrained(task: Pretrained, seed: int) -> None:
    """Trains the task's named pretrained model into its cache folder the first time it is
    needed, then seeds as before, so the run goes on exactly as if it had been built already.
    A build that was stopped resumes from its last checkpoint; runs started side by side build it
    once (a file lock beside the folder: the others wait, then read it)."""
    needed = task.to_pretrain()
    if needed is None:
        return
    folder, cfg = needed
    if dist.is_initialized():
        raise ValueError(f"the pretrained encoder is not built yet; build it once in one process first: "
                         f"rnnkit train with its config and --out_dir={folder} (see configs/lm_imdb.toml)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(f"{folder}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for another process that is building the pretrained encoder in {folder}", flush=True)
        lock.acquire()
    try:
        if task.to_pretrain() is None:                          # built by that process meanwhile
            return
        if (folder / STATE_FILE).is_file():
            print(f"resuming the pretrained encoder's build in {folder} from its last checkpoint", flush=True)
            # the recipe as this checkout resolves it (the folder's digest says it is the same recipe;
            # a file it names may have moved with the checkout)
            atomic_write(folder / CONFIG_FILE, lambda tmp: tmp.write_text(toml.dumps(to_dict(
                replace(cfg, [f"out_dir={folder}"])))))
            run(resume=folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)           # stopped before its first checkpoint: nothing to keep
            print(f"building the pretrained encoder in {folder} once (later runs reuse it)", flush=True)
            run(cfg)
        atomic_write(folder / BUILT_FILE, lambda tmp: tmp.write_text(json.dumps({"built": time.strftime(
            "%Y-%m-%dT%H:%M:%S%z")}) + "\n"))
    finally:
        lock.release()
    seed_everything(seed)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def distributed(cfg: RunConfig) -> Iterator[None]:
    """Joins the torchrun process group when WORLD_SIZE > 1 (and leaves it afterwards)."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1 or dist.is_initialized():
        yield
        return
    cuda = resolve_device(cfg.train.device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield
        # Leave together: a gloo rank whose peer has already torn its group down can die in
        # C++ teardown ("terminate called without an active exception", SIGABRT) after a good run.
        dist.barrier()
    finally:
        dist.destroy_process_group()


OWNER_FILE = ".owner"     # created exclusively: the run directory belongs to the process that made it


def _claim(path: Path) -> bool:
    """Whether this process now owns `path` as its run directory. The exclusive create of
    OWNER_FILE is atomic, so of two trainings started on the same out_dir at once exactly one wins
    and the other moves on (checking for config.toml and then creating it was not)."""
    if (path / CONFIG_FILE).exists() or (path / STATE_FILE).exists():
        return False                                    # a run from before OWNER_FILE existed
    path.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path / OWNER_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(f"pid {os.getpid()}\n")
    return True


def _new_run_dir(out_dir: str, rank: int) -> Path:
    """`out_dir`, or the first free out_dir-N when it already holds a run; never overwrites one."""
    path, n = Path(out_dir), 1
    if rank == 0:
        while not _claim(path):
            n += 1
            path = Path(f"{out_dir}-{n}")
        if n > 1:
            print(f"{out_dir} already holds a run; this one goes to {path}", flush=True)
    if dist.is_initialized():
        shared = [path]
        dist.broadcast_object_list(shared, src=0)
        path = shared[0]
    return path
