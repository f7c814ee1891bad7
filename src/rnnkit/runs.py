"""Whole runs: config -> run directory -> trained model, and back.

    metrics = rnnkit.run(rnnkit.load_config("configs/adding_lstm.toml"))
    cfg, model = rnnkit.load("runs/adding_lstm")

Under torchrun (WORLD_SIZE > 1) `run` joins the process group first: gloo on CPU, NCCL on GPU.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from . import _toml
from .config import RunConfig, load_config, replace, to_dict
from .data.batch import batches
from .train import METHODS
from .train.checkpoint import (
    CONFIG_FILE,
    STATE_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    atomic_write,
    check_run_dir,
    load_weights,
    read_state,
)
from .train.loop import evaluate, resolve_device, total_iterations


def run(cfg: RunConfig | None = None, *, resume: str | Path | None = None, overrides: Sequence[str] = (),
        on_eval: Callable[[int, dict[str, float]], bool | None] | None = None) -> dict[str, float]:
    """Trains `cfg` in a new run directory (cfg.out_dir, or out_dir-2, -3... when that already
    holds a run), or continues the run in `resume` exactly where its last checkpoint left it."""
    if resume is not None:
        read_state(resume)                                    # fail early on a bad checkpoint
        cfg = replace(read_config(resume), overrides)
    elif cfg is None:
        raise ValueError("run() needs a RunConfig or resume=RUN_DIR")
    with distributed(cfg):
        rank = dist.get_rank() if dist.is_initialized() else 0
        seed_everything(cfg.seed)
        task = cfg.task.build()
        data = task.load()
        model = task.build_model(cfg.model, data)
        if cfg.train.method == "gradient":                    # say what is wrong before writing any file
            total_iterations(cfg.train, data, task)
            resolve_device(cfg.train.device, 1, cfg.train.amp)
        run_dir = Path(resume) if resume is not None else _new_run_dir(cfg.out_dir, rank)
        cfg = replace(cfg, [f"out_dir={run_dir}"])            # the directory this run really uses
        if rank == 0:
            atomic_write(run_dir / CONFIG_FILE, lambda tmp: tmp.write_text(_toml.dumps(to_dict(cfg))))
        if rank:
            torch.manual_seed(cfg.seed + rank)                # own dropout masks per process
        return METHODS[cfg.train.method](model, task, data, cfg, run_dir=run_dir, resume=resume is not None,
                                         on_eval=on_eval)


def load(run_dir: str | Path) -> tuple[RunConfig, nn.Module]:
    """The run's config and its model with the saved weights, in eval mode, on the CPU."""
    cfg, _, _, model = _rebuild(run_dir)
    return cfg, model


def evaluate_run(run_dir: str | Path, split: str = "valid") -> dict[str, float]:
    """Metrics of a saved run's model on one of its task's splits ("valid" or "test")."""
    cfg, task, data, model = _rebuild(run_dir)
    if split not in ("train", "valid", "test") or getattr(data, split) is None:
        raise ValueError(f"split must be one of train, valid, test (one the task has), got {split!r}")
    size = len(getattr(data, split)) if task.carries_state else cfg.train.batch_size
    return evaluate(model, task, batches(getattr(data, split), size))


def read_config(run_dir: str | Path) -> RunConfig:
    path = check_run_dir(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no {CONFIG_FILE}; is it a run directory?")
    return load_config(path)


def read_saved_run(run_dir: str | Path, tasks: Sequence[str], command: str, key: str) -> tuple[RunConfig, torch.Tensor]:
    """The config of a run of one of `tasks` and the tensor `key` (a vocabulary or metadata saved
    beside the weights), without loading the task's data: what commands on a finished run need
    first. Errors say which run, which task and what is missing."""
    from safetensors import safe_open

    cfg = read_config(run_dir)
    wanted = " or ".join(tasks)
    if cfg.task.name not in tasks:
        raise ValueError(f"{run_dir} is a {cfg.task.name!r} run; {command} needs a {wanted} run")
    path = Path(run_dir) / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no {WEIGHTS_FILE}: the run saved no checkpoint yet")
    with safe_open(str(path), framework="pt") as f:
        if key not in f.keys():
            raise CheckpointError(f"{path} holds no {key}; it was not written by a {wanted} run")
        return cfg, f.get_tensor(key)


def seed_everything(seed: int) -> None:
    import random

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


def _rebuild(run_dir: str | Path) -> tuple[RunConfig, Any, Any, nn.Module]:
    cfg = read_config(run_dir)
    task = cfg.task.build()
    data = task.load()
    model = load_weights(task.build_model(cfg.model, data), run_dir)
    return cfg, task, data, model.eval()


def _new_run_dir(out_dir: str, rank: int) -> Path:
    """`out_dir`, or the first free out_dir-N when it already holds a run; never overwrites one."""
    path, n = Path(out_dir), 1
    if rank == 0:
        while (path / CONFIG_FILE).exists() or (path / STATE_FILE).exists():
            n += 1
            path = Path(f"{out_dir}-{n}")
        if n > 1:
            print(f"{out_dir} already holds a run; this one goes to {path}", flush=True)
        path.mkdir(parents=True, exist_ok=True)
    if dist.is_initialized():
        shared = [path]
        dist.broadcast_object_list(shared, src=0)
        path = shared[0]
    return path
