"""fit(): the one gradient loop, for every task. evaluate(): eval mode and no_grad around a task.

One iteration is one optimiser update. It consumes `accumulate` chunks of truncated BPTT from
the training stream; the state flows from chunk to chunk (and from batch to batch when
`task.carries_state`) and is detached at every boundary.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ..config import RunConfig, TrainConfig
from ..data.batch import Batch, Splits, batches
from .best import BestWeights
from .checkpoint import map_tensors, restore, sigint_flag
from .checkpoint import save as save_checkpoint
from .device import autocast, flag, mean, resolve_device, world, wrap
from .log import RunLog
from .optim import after_evaluation, after_update, averaged, make_optimizer, make_schedule
from .protocols import Metrics, PlotsAtEnd, TrainedTask
from .stream import eval_batch_size, eval_interval, stream, total_iterations
from .tbptt import detach
from .unfreeze import Unfreezing

__all__ = ["Interrupted", "NonFiniteError", "Progress", "evaluate", "fit", "resolve_device", "stream",
           "total_iterations", "update", "validate"]


class NonFiniteError(RuntimeError):
    """The loss or the gradient became inf or nan (train.on_nonfinite = 'stop')."""


class Interrupted(KeyboardInterrupt):
    """SIGINT arrived; a checkpoint was saved first."""


@dataclass
class Progress:
    """Everything that moves during training and is saved for an exact resume."""

    iteration: int = 0
    position: tuple[int, int, int] = (0, 0, 0)     # next (epoch, batch, chunk) of the stream
    state: Any = None                              # carried recurrent state
    best: float = math.inf                         # best validation value, lower is better
    best_iteration: int = 0
    bad_evals: int = 0
    skipped: int = 0
    metrics: dict[str, float] = field(default_factory=dict)


def fit(model: nn.Module, task: TrainedTask, data: Splits, cfg: RunConfig, *, run_dir: str | Path | None = None,
        resume: bool = False, on_eval: Callable[[int, Metrics], bool | None] | None = None) -> Metrics:
    """Trains `model` on `task` as `cfg.train` and `cfg.optim` say; returns the last validation
    metrics. With `run_dir`, logs, plots and checkpoints go there (rank 0 only), and
    `resume=True` continues exactly from its last checkpoint. `on_eval(iteration, metrics)` sees
    every validation; when it returns True, training stops there as early stopping would (a
    checkpoint is saved): this is how a tuning pruner ends a hopeless trial."""
    train, (rank, world_size) = cfg.train, world()
    device = resolve_device(train.device, world_size, train.amp)
    net = wrap(model.to(device), device, world_size)
    optimizer = make_optimizer(model, cfg.optim)
    total = total_iterations(train, data, task)
    schedule = make_schedule(optimizer, cfg.optim, total)
    scaler = torch.amp.GradScaler(device.type, enabled=train.amp == "fp16")
    progress = Progress()
    if resume:
        restore(run_dir, model, optimizer, schedule, scaler, progress, device, rank)
    chunks = stream(task, data, train, cfg.seed, progress.position, rank, world_size)
    log = RunLog(run_dir if rank == 0 else None, total=total, start=progress.iteration, plots=train.plots,
                 log_every=train.log_every, quiet=rank != 0)
    saved = [progress.iteration] if resume else []

    def save() -> None:
        save_checkpoint(run_dir, model, optimizer, schedule, scaler, progress, rank, world_size)
        saved.append(progress.iteration)

    best = BestWeights(model, optimizer, run_dir, write=rank == 0) if train.restore_best else None
    eval_every = eval_interval(train, total)
    unfreeze = Unfreezing(model, train.unfreeze_epochs, total // train.epochs if train.epochs else 0)
    ckpt_every = train.checkpoint_every or eval_every              # 0 and 0: only at the end
    with sigint_flag() as interrupted:
        while progress.iteration < total:
            unfreeze(progress.iteration)
            try:
                loss, norm, tokens = update(net, task, chunks, optimizer, schedule, scaler, train, progress, device)
            except NonFiniteError as error:
                last = f"{run_dir} at iteration {saved[-1]}" if saved else "none (no checkpoint saved yet)"
                log.finish(progress, note=str(error))
                raise NonFiniteError(f"{error}; last good checkpoint: {last}") from None
            progress.iteration += 1
            log.train(progress.iteration, loss, norm, optimizer.param_groups[0]["lr"], tokens * world_size)
            interrupt, stop = flag(interrupted(), device, world_size), False
            if _due(eval_every, progress.iteration, total):
                stop = validate(model, task, data, optimizer, schedule, train, progress)
                stop = _after_validation(progress, best, log, on_eval) or stop
            if run_dir is not None and (interrupt or stop or _due(ckpt_every, progress.iteration, total)):
                save()
            if interrupt:
                log.finish(progress, note=f"interrupted; resume with: rnnkit train --resume {run_dir}")
                raise Interrupted(f"interrupted at iteration {progress.iteration}; checkpoint saved in {run_dir}")
            if stop:
                break
        # Still under the flag: a SIGINT now (e.g. a time limit that lands while the plots are
        # drawn) lets the run finish its last few seconds instead of leaving a traceback and no
        # plots; the last checkpoint is already saved, and a second SIGINT stops at once.
        log.finish(progress)
        unfreeze.release()                          # whatever stopped it, the model leaves trainable
        if best is not None:
            best.finish(progress, train.metric)
        if run_dir is not None and rank == 0 and train.plots and isinstance(task, PlotsAtEnd):
            _task_plot(task, model, data, Path(run_dir) / "plots")
    return progress.metrics


def _after_validation(progress: Progress, best: BestWeights | None, log: RunLog,
                      on_eval: Callable[[int, Metrics], bool | None] | None) -> bool:
    """Keeps the best weights, logs the validation, and asks `on_eval`; True when it says stop."""
    if best is not None and progress.best_iteration == progress.iteration:
        best.keep(progress.iteration)
    log.evaluation(progress.iteration, progress.metrics)
    return bool(on_eval is not None and on_eval(progress.iteration, dict(progress.metrics)))


def _task_plot(task: PlotsAtEnd, model: nn.Module, data: Splits, folder: Path) -> None:
    """The task's own end-of-run picture (a forecast, a posteriogram), as ridge training draws it.
    The model is saved by now: a failed plot is reported, not raised."""
    try:
        task.plot(model, data, folder)
    except Exception as error:                      # a picture must not cost the run
        print(f"note: could not draw the task's plot in {folder}: {type(error).__name__}: {error}", flush=True)


def update(net: nn.Module, task: TrainedTask, chunks: Iterator, optimizer: torch.optim.Optimizer, schedule: Any,
           scaler: torch.amp.GradScaler, train: TrainConfig, progress: Progress,
           device: torch.device) -> tuple[float, float, int]:
    """One optimiser update over `train.accumulate` chunks; returns (loss, gradient norm, tokens)."""
    optimizer.zero_grad(set_to_none=True)
    loss_sum, tokens, steps = torch.zeros((), device=device), 0, 0
    amp = autocast(device, train.amp)
    for micro in range(train.accumulate):
        chunk, fresh, position = next(chunks)
        state = None if fresh else progress.state
        sync = micro == train.accumulate - 1 or not isinstance(net, DistributedDataParallel)
        with (nullcontext() if sync else net.no_sync()), amp:
            loss, state = task.loss(net, chunk.to(device), state)
        scaler.scale(loss / train.accumulate).backward()
        progress.state, progress.position = detach(state), position       # truncate: no gradient past here
        if train.amp != "none":                   # autocast made it half precision; the next chunk wants float
            progress.state = map_tensors(progress.state, lambda t: t.to(next(net.parameters()).dtype))
        loss_sum += loss.detach().float()
        # throughput counts real steps: padding (and a bucketed batch's leading bucket axis) is not work done
        lengths = chunk.lengths
        tokens += int(lengths.sum()) if lengths is not None else chunk.inputs.shape[0] * chunk.inputs.shape[1]
        steps += chunk.inputs.shape[1]
    scaler.unscale_(optimizer)
    params = [p for p in net.parameters() if p.grad is not None]
    norm = _grad_norm(params, train.clip)
    if train.clip_value:
        nn.utils.clip_grad_value_(params, train.clip_value)
    loss_value, norm_value = mean(torch.stack([loss_sum / train.accumulate, norm.float()]), net).tolist()
    if not math.isfinite(loss_value) or (not math.isfinite(norm_value) and not scaler.is_enabled()):
        if train.on_nonfinite == "stop":
            raise NonFiniteError(f"non-finite {'loss' if not math.isfinite(loss_value) else 'gradient'} at "
                                 f"iteration {progress.iteration + 1}")
        progress.skipped += 1
        progress.state = None                     # a carried state from a non-finite pass would poison the next
        optimizer.zero_grad(set_to_none=True)
    lrs = [group["lr"] for group in optimizer.param_groups]
    if train.random_bptt:                   # AWD-LSTM: the step size follows the chunk length
        for group in optimizer.param_groups:
            group["lr"] *= steps / (train.accumulate * train.bptt)
    scaler.step(optimizer)                  # no-op for parameters without gradients (skipped updates)
    scaler.update()
    for group, lr in zip(optimizer.param_groups, lrs):
        group["lr"] = lr
    after_update(schedule)
    return loss_value, norm_value, tokens


def validate(model: nn.Module, task: TrainedTask, data: Splits, optimizer: torch.optim.Optimizer, schedule: Any,
             train: TrainConfig, progress: Progress) -> bool:
    """Evaluates on the validation split (averaged weights where the optimiser keeps them) and
    updates the plateau schedule, NT-ASGD and early stopping; returns True to stop."""
    with averaged(optimizer):
        progress.metrics = evaluate(model, task, batches(data.valid, eval_batch_size(task, train, data.valid)))
    name = train.metric or next(iter(progress.metrics))
    if name not in progress.metrics:
        raise ValueError(f"train.metric = {name!r} is not a metric of this task; it reports "
                         f"{sorted(progress.metrics)}")
    value = progress.metrics[name] * (1.0 if train.direction == "minimize" else -1.0)
    after_evaluation(optimizer, schedule, value)
    if value < progress.best:
        progress.best, progress.best_iteration, progress.bad_evals = value, progress.iteration, 0
    else:
        progress.bad_evals += 1
    return bool(train.patience) and progress.bad_evals >= train.patience


def evaluate(model: nn.Module, task: TrainedTask, batches: Iterable[Batch]) -> Metrics:
    """task.evaluate in eval mode without gradients; batches move to the model's device."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return task.evaluate(model, (batch.to(device) for batch in batches))
    finally:
        model.train(was_training)


def _grad_norm(params: list[Tensor], clip: float) -> Tensor:
    if clip:
        return nn.utils.clip_grad_norm_(params, clip)           # RNN gradients explode without it
    if not params:
        return torch.zeros(())
    if hasattr(nn.utils, "get_total_norm"):                     # torch >= 2.6: no rescaling pass
        return nn.utils.get_total_norm([p.grad for p in params])
    return nn.utils.clip_grad_norm_(params, math.inf)


def _due(every: int, iteration: int, total: int) -> bool:
    return iteration == total or (every > 0 and iteration % every == 0)
