"""Checkpoints in a run directory, written atomically (a temporary file in the same directory,
then os.replace), so a kill leaves either the old file or the new one, never half of one.

- model.safetensors: the weights to use (the averaged ones under ASGD/NT-ASGD); no code, no pickle.
  With train.restore_best, a finished run's are those of its best validation.
- best.safetensors (train.restore_best only): the weights of the best validation so far, written
  when it improves, so a resumed run still ends with the best of all its evaluations.
- meta.json: {"format", "task", "meta"}: what the task needs besides the weights to rebuild the
  model and its pre/post-processing (`Task.describe`), written once when training starts.
- train_state.pt: everything an exact resume needs (raw weights, optimizer, schedule, grad
  scaler, the RNG states of every process, data position, carried state, early-stopping
  bookkeeping). Plain tensors and containers only, read with torch.load(weights_only=True),
  which refuses to run code.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..io.files import atomic_write, atomic_write_all
from .optim import averaged

FORMAT_VERSION = 2   # 2: the task's metadata moved from buffers in the weights to meta.json
WEIGHTS_FILE, STATE_FILE, CONFIG_FILE = "model.safetensors", "train_state.pt", "config.toml"
META_FILE, META_FORMAT = "meta.json", 1
BEST_FILE = "best.safetensors"


class CheckpointError(RuntimeError):
    """A run directory or checkpoint is missing, corrupted or from an incompatible version."""


def write_meta(run_dir: str | Path, name: str, meta: dict[str, Any]) -> None:
    """RUN_DIR/meta.json: the task's `describe(data)` with the format version."""
    text = json.dumps({"format": META_FORMAT, "task": name, "meta": meta}, ensure_ascii=False, indent=1)
    atomic_write(Path(run_dir) / META_FILE, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def save(run_dir: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, schedule: Any,
         scaler: torch.amp.GradScaler, progress: Any, rank: int = 0, world: int = 1) -> None:
    """Writes both checkpoint files as one unit (rank 0 only; every rank contributes its RNG state):
    both complete or, when a write fails (a full disk), the previous pair untouched."""
    rngs = [rng_state()]
    if world > 1:
        rngs = [None] * world
        dist.all_gather_object(rngs, rng_state())
    if rank != 0:
        return
    run_dir = Path(run_dir)

    def weights(tmp: Path) -> None:
        with averaged(optimizer):
            _write_weights(tmp, model, progress.iteration)

    state = {"format_version": FORMAT_VERSION, "iteration": progress.iteration,
             "position": list(progress.position), "state": map_tensors(progress.state, lambda t: t.cpu()),
             "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "schedule": schedule.state_dict(), "scaler": scaler.state_dict(), "rng": rngs,
             "best": progress.best, "best_iteration": progress.best_iteration,
             "bad_evals": progress.bad_evals, "skipped": progress.skipped, "metrics": dict(progress.metrics)}
    atomic_write_all([(run_dir / WEIGHTS_FILE, weights), (run_dir / STATE_FILE, lambda tmp: torch.save(state, tmp))])


def save_weights(path: str | Path, model: nn.Module, iteration: int) -> None:
    """Writes the model's weights alone to `path` (atomically), in the format load_weights reads."""
    atomic_write(path, lambda tmp: _write_weights(tmp, model, iteration))


def _write_weights(path: Path, model: nn.Module, iteration: int) -> None:
    from safetensors.torch import save_model

    save_model(model, str(path), metadata={"format_version": str(FORMAT_VERSION), "iteration": str(iteration),
                                           "sha256": weights_digest(model)})


def weights_digest(model: nn.Module) -> str:
    """sha256 over the model's state (names and raw bytes, sorted by name): written into the
    safetensors header and checked after every load, so bytes flipped in model.safetensors are an
    error instead of a model that silently predicts garbage."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode() + str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def restore(run_dir: str | Path | None, model: nn.Module, optimizer: torch.optim.Optimizer, schedule: Any,
            scaler: torch.amp.GradScaler, progress: Any, device: torch.device, rank: int = 0) -> None:
    """Puts everything `save` wrote back in place, so training continues as if never stopped."""
    if run_dir is None:
        raise ValueError("resume=True needs the run_dir to resume from")
    state = read_state(run_dir)
    for stale in Path(run_dir).glob(".*.tmp"):               # left by a kill in the middle of a write
        stale.unlink(missing_ok=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    if state["scaler"]:
        scaler.load_state_dict(state["scaler"])
    progress.iteration, progress.position = state["iteration"], tuple(state["position"])
    progress.state = map_tensors(state["state"], lambda t: t.to(device))
    progress.best, progress.best_iteration = state["best"], state["best_iteration"]
    progress.bad_evals, progress.skipped, progress.metrics = state["bad_evals"], state["skipped"], state["metrics"]
    set_rng_state(state["rng"][rank if rank < len(state["rng"]) else 0])


def check_fits(model: nn.Module, state: dict[str, Any], run_dir: str | Path) -> None:
    """A CheckpointError naming the first tensor of the checkpoint `state` that `model` (built from
    the settings a resume would use) lacks or shapes differently. Checked before a resume writes
    anything, so a changed model setting (an override or a hand-edited config.toml) leaves the run
    directory as it was instead of rewriting its config and then failing to restore."""
    saved, mine = state["model"], model.state_dict()
    for name in sorted(set(saved) | set(mine)):
        a, b = saved.get(name), mine.get(name)
        if a is None or b is None or tuple(a.shape) != tuple(b.shape):
            what = (f"{name} is {'missing from the checkpoint' if a is None else 'not in this model'}"
                    if a is None or b is None else f"{name} is {tuple(a.shape)} there, {tuple(b.shape)} here")
            raise CheckpointError(f"the checkpoint in {run_dir} does not fit the model these settings build ({what}); "
                                  "resume with the run's own model settings (undo the override or the edit to "
                                  "config.toml), or start a new run; the run directory was left untouched")


def read_state(run_dir: str | Path) -> dict[str, Any]:
    path = check_run_dir(run_dir) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no {STATE_FILE}, so there is nothing to resume; "
                              f"start the run afresh with: rnnkit train {Path(run_dir) / CONFIG_FILE}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "GLOBAL" not in str(error):                      # garbage, not a pickle of arbitrary objects
            raise CheckpointError(f"{path} is corrupted or unreadable (not a checkpoint); the run directory was left "
                                  "untouched: resume from an intact copy or start the run afresh") from None
        # never relay torch's advice to retry with weights_only=False: that would run the file's code
        raise CheckpointError(f"{path} holds Python objects beyond tensors and numbers, which could run code when "
                              "loaded; rnnkit never loads such a file. It was not written by rnnkit or was changed "
                              "since: resume from a copy you trust or start the run afresh") from None
    except Exception as error:
        raise CheckpointError(f"{path} is corrupted or unreadable ({type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''}); the run directory was "
                              "left untouched: resume from an intact copy or start the run afresh") from None
    version = state.get("format_version") if isinstance(state, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {version}, but this rnnkit reads format "
                              f"{FORMAT_VERSION}; resume it with the rnnkit version that wrote it")
    return state


def load_weights(model: nn.Module, run_dir: str | Path, file: str = WEIGHTS_FILE) -> nn.Module:
    """Loads model.safetensors (or another weights `file` of the run) into `model` (built from the
    run's config) and returns it."""
    from safetensors import safe_open
    from safetensors.torch import load_model

    path = check_run_dir(run_dir) / file
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no {file}: the run saved no checkpoint yet")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        version = header.get("format_version")
        if version != str(FORMAT_VERSION):
            raise CheckpointError(f"{path} has checkpoint format {version}, but this rnnkit reads "
                                  f"format {FORMAT_VERSION}; load it with the rnnkit version that wrote it")
        load_model(model, str(path))
        if "sha256" in header and weights_digest(model) != header["sha256"]:     # files before it have none
            raise CheckpointError(f"{path} does not match the checksum written with it: its bytes changed since "
                                  "(a damaged disk or copy, or an edit); use an intact copy or train the run again")
    except CheckpointError:
        raise
    except Exception as error:
        raise CheckpointError(f"{path} is corrupted or does not match the saved config "
                              f"({type(error).__name__}: {str(error).splitlines()[0]})") from None
    return model


def check_run_dir(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {str(run_dir)!r} does not exist")
    return run_dir


def rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"python": random.getstate(), "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos,
                                                   has_gauss, gauss),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def sigint_flag() -> Iterator[Callable[[], bool]]:
    """Inside the block, SIGINT only raises a flag (the loop checkpoints and stops at the end of
    the iteration); a second SIGINT interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    hit, previous = [False], signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if hit[0]:
            raise KeyboardInterrupt
        hit[0] = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: hit[0]
    finally:
        signal.signal(signal.SIGINT, previous)


def map_tensors(state: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return tuple(map_tensors(s, fn) for s in state)
    return fn(state)
