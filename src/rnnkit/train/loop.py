"""fit(): the one gradient loop, for every task. evaluate(): eval mode and no_grad around a task.

One iteration is one optimiser update. It consumes `accumulate` chunks of truncated BPTT from
the training stream; the state flows from chunk to chunk (and from batch to batch when
`task.carries_state`) and is detached at every boundary.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..data.batch import Batch, Splits, batches, num_batches
from .checkpoint import (
    BEST_FILE,
    STATE_FILE,
    WEIGHTS_FILE,
    load_weights,
    map_tensors,
    restore,
    save_weights,
    sigint_flag,
)
from .checkpoint import save as save_checkpoint
from .log import RunLog
from .optim import after_evaluation, after_update, averaged, make_optimizer, make_schedule
from .tbptt import chunk_sizes, detach, split_time

if TYPE_CHECKING:
    from ..config import RunConfig, TrainConfig
    from ..tasks.base import Metrics, Task


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


def fit(model: nn.Module, task: Task, data: Splits, cfg: RunConfig, *, run_dir: str | Path | None = None,
        resume: bool = False, on_eval: Callable[[int, Metrics], bool | None] | None = None) -> Metrics:
    """Trains `model` on `task` as `cfg.train` and `cfg.optim` say; returns the last validation
    metrics. With `run_dir`, logs, plots and checkpoints go there (rank 0 only), and
    `resume=True` continues exactly from its last checkpoint. `on_eval(iteration, metrics)` sees
    every validation; when it returns True, training stops there as early stopping would (a
    checkpoint is saved): this is how a tuning pruner ends a hopeless trial."""
    train, (rank, world) = cfg.train, _world()
    device = resolve_device(train.device, world, train.amp)
    net = _wrap(model.to(device), device, world)
    optimizer = make_optimizer(model, cfg.optim)
    total = total_iterations(train, data, task)
    schedule = make_schedule(optimizer, cfg.optim, total)
    scaler = torch.amp.GradScaler(device.type, enabled=train.amp == "fp16")
    progress = Progress()
    if resume:
        restore(run_dir, model, optimizer, schedule, scaler, progress, device, rank)
    chunks = stream(task, data, train, cfg.seed, progress.position, rank, world)
    log = RunLog(run_dir if rank == 0 else None, total=total, start=progress.iteration, plots=train.plots,
                 log_every=train.log_every, quiet=rank != 0)
    saved = [progress.iteration] if resume else []

    def save() -> None:
        save_checkpoint(run_dir, model, optimizer, schedule, scaler, progress, rank, world)
        saved.append(progress.iteration)

    best = BestWeights(model, optimizer, run_dir, write=rank == 0) if train.restore_best else None

    ckpt_every = train.checkpoint_every or train.eval_every        # 0 and 0: only at the end
    with sigint_flag() as interrupted:
        while progress.iteration < total:
            try:
                loss, norm, tokens = update(net, task, chunks, optimizer, schedule, scaler, train, progress, device)
            except NonFiniteError as error:
                last = f"{run_dir} at iteration {saved[-1]}" if saved else "none (no checkpoint saved yet)"
                log.finish(progress, note=str(error))
                raise NonFiniteError(f"{error}; last good checkpoint: {last}") from None
            progress.iteration += 1
            log.train(progress.iteration, loss, norm, optimizer.param_groups[0]["lr"], tokens * world)
            interrupt, stop = _flag(interrupted(), device, world), False
            if _due(train.eval_every, progress.iteration, total):
                stop = validate(model, task, data, optimizer, schedule, train, progress)
                if best is not None and progress.best_iteration == progress.iteration:
                    best.keep(progress.iteration)
                log.evaluation(progress.iteration, progress.metrics)
                if on_eval is not None and on_eval(progress.iteration, dict(progress.metrics)):
                    stop = True
            if run_dir is not None and (interrupt or stop or _due(ckpt_every, progress.iteration, total)):
                save()
            if interrupt:
                log.finish(progress, note=f"interrupted; resume with: rnnkit train --resume {run_dir}")
                raise Interrupted(f"interrupted at iteration {progress.iteration}; checkpoint saved in {run_dir}")
            if stop:
                break
    log.finish(progress)
    if best is not None and best.restore(progress.best_iteration) and run_dir is not None and rank == 0:
        save_weights(Path(run_dir) / WEIGHTS_FILE, model, progress.best_iteration)
        if progress.best_iteration != progress.iteration:
                print(f"restored the weights of iteration {progress.best_iteration}, the best validation "
                  f"{train.metric or next(iter(progress.metrics))}; {run_dir}/{STATE_FILE} keeps the "
                  "last ones for --resume", flush=True)
    if run_dir is not None and rank == 0 and train.plots and hasattr(task, "plot"):
        _task_plot(task, model, data, Path(run_dir) / "plots")
    return progress.metrics


class BestWeights:
    """train.restore_best (Keras's restore_best_weights): the weights validated best so far, kept in
    memory and, with a run directory, in best.safetensors (so a resumed run can still end with a
    best from before its interruption). They are the weights validation saw: the averaged ones
    under ASGD/NT-ASGD."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, run_dir: str | Path | None, *,
                 write: bool = True) -> None:
        self.model, self.optimizer, self.run_dir, self.write = model, optimizer, run_dir, write
        self.weights: dict[str, torch.Tensor] | None = None
        self.iteration = 0

    def keep(self, iteration: int) -> None:
        with averaged(self.optimizer):
            self.weights = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            if self.run_dir is not None and self.write:           # rank 0 writes; every rank may read
                save_weights(Path(self.run_dir) / BEST_FILE, self.model, iteration)
        self.iteration = iteration

    def restore(self, best_iteration: int) -> bool:
        """Puts the best weights into the model; False when there were none to restore."""
        if self.weights is not None and self.iteration == best_iteration:
            self.model.load_state_dict(self.weights)
            return True
        if best_iteration and self.run_dir is not None and (Path(self.run_dir) / BEST_FILE).is_file():
            load_weights(self.model, self.run_dir, BEST_FILE)     # from before a resume
            return True
        return False


def _task_plot(task: Task, model: nn.Module, data: Splits, folder: Path) -> None:
    """The task's own end-of-run picture (a forecast, a posteriogram), as ridge training draws it.
    The model is saved by now: a failed plot is reported, not raised."""
    try:
        task.plot(model, data, folder)
    except Exception as error:                      # a picture must not cost the run
        print(f"note: could not draw the task's plot in {folder}: {type(error).__name__}: {error}", flush=True)


def update(net: nn.Module, task: Task, chunks: Iterator, optimizer: torch.optim.Optimizer, schedule: Any,
           scaler: torch.amp.GradScaler, train: TrainConfig, progress: Progress,
           device: torch.device) -> tuple[float, float, int]:
    """One optimiser update over `train.accumulate` chunks; returns (loss, gradient norm, tokens)."""
    optimizer.zero_grad(set_to_none=True)
    loss_sum, tokens, steps = torch.zeros((), device=device), 0, 0
    amp = torch.autocast(device.type, dtype=torch.bfloat16 if train.amp == "bf16" else torch.float16,
                         enabled=train.amp != "none")
    for micro in range(train.accumulate):
        chunk, fresh, position = next(chunks)
        state = None if fresh else progress.state
        sync = micro == train.accumulate - 1 or not hasattr(net, "no_sync")
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
    loss_value, norm_value = _mean(torch.stack([loss_sum / train.accumulate, norm.float()]), net).tolist()
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


def validate(model: nn.Module, task: Task, data: Splits, optimizer: torch.optim.Optimizer, schedule: Any,
             train: TrainConfig, progress: Progress) -> bool:
    """Evaluates on the validation split (averaged weights where the optimiser keeps them) and
    updates the plateau schedule, NT-ASGD and early stopping; returns True to stop."""
    with averaged(optimizer):
        progress.metrics = evaluate(model, task, batches(data.valid, _eval_batch_size(task, train, data.valid)))
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


def evaluate(model: nn.Module, task: Task, batches: Iterable[Batch]) -> Metrics:
    """task.evaluate in eval mode without gradients; batches move to the model's device."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return task.evaluate(model, (batch.to(device) for batch in batches))
    finally:
        model.train(was_training)


def stream(task: Task, data: Splits, train: TrainConfig, seed: int, start: tuple[int, int, int],
           rank: int = 0, world: int = 1) -> Iterator[tuple[Batch, bool, tuple[int, int, int]]]:
    """Training chunks from position `start` on, forever: (chunk, fresh, next position). `fresh`
    means the state starts anew: at every batch, or at every epoch for a stateful stream. Batch
    order and random chunk lengths are functions of (seed, epoch, batch), so a saved position
    replays exactly."""
    epoch, first_batch, first_chunk = start
    size = len(data.train) if task.carries_state else train.batch_size
    while True:
        shards = batches(data.train, size, shuffle=not task.carries_state, seed=seed, epoch=epoch,
                         start=first_batch, drop_last=True, rank=rank, world_size=world)
        for b, batch in enumerate(shards, first_batch):
            rng = random.Random(f"{seed}:{epoch}:{b}") if train.random_bptt else None
            chunks = split_time(batch, chunk_sizes(batch.inputs.size(1), train.bptt, rng=rng))
            for c in range(first_chunk, len(chunks)):
                after = (epoch, b, c + 1) if c + 1 < len(chunks) else (epoch, b + 1, 0)
                yield chunks[c], c == 0 and (b == 0 or not task.carries_state), after
            first_chunk = 0
        epoch, first_batch = epoch + 1, 0


def total_iterations(train: TrainConfig, data: Splits, task: Task) -> int:
    steps = data.train.inputs.size(1)
    if train.bptt > steps:
        raise ValueError(f"train.bptt = {train.bptt} is longer than the training sequences ({steps} steps); "
                         f"set train.bptt <= {steps}, or 0 for full BPTT")
    per_batch = len(chunk_sizes(steps, train.bptt))
    if per_batch > 1:
        split_time(data.train.select(slice(0, 1)), train.bptt)     # raises for per-sequence targets
    size = len(data.train) if task.carries_state else train.batch_size
    if num_batches(data.train, size, drop_last=True) == 0:
        raise ValueError(f"train.batch_size = {size} is larger than the training split ({len(data.train)} examples)")
    if not train.epochs:
        return train.iterations
    return max(1, train.epochs * num_batches(data.train, size, drop_last=True) * per_batch // train.accumulate)


def resolve_device(name: str, world: int = 1, amp: str = "none") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"train.device = {name!r} but CUDA is not available; use train.device = 'cpu'")
    if amp == "fp16" and not name.startswith("cuda"):
        raise ValueError("train.amp = 'fp16' needs a CUDA device; use train.amp = 'bf16' or 'none' on a CPU")
    if name == "cuda" and world > 1:
        name = f"cuda:{dist.get_rank() % torch.cuda.device_count()}"
    return torch.device(name)


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _wrap(model: nn.Module, device: torch.device, world: int) -> nn.Module:
    if world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def _grad_norm(params: list[Tensor], clip: float) -> Tensor:
    if clip:
        return nn.utils.clip_grad_norm_(params, clip)           # RNN gradients explode without it
    if not params:
        return torch.zeros(())
    if hasattr(nn.utils, "get_total_norm"):                     # torch >= 2.6: no rescaling pass
        return nn.utils.get_total_norm([p.grad for p in params])
    return nn.utils.clip_grad_norm_(params, math.inf)


def _mean(values: Tensor, net: nn.Module) -> Tensor:
    """Values averaged over processes (the loss; the gradient norm is already the same on all)."""
    if hasattr(net, "no_sync"):
        dist.all_reduce(values)
        values = values / dist.get_world_size()
    return values


def _flag(raised: bool, device: torch.device, world: int) -> bool:
    """True on every process when any process raised the flag (so all stop at the same iteration)."""
    if world == 1:
        return raised
    flag = torch.tensor([float(raised)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def _due(every: int, iteration: int, total: int) -> bool:
    return iteration == total or (every > 0 and iteration % every == 0)


def _eval_batch_size(task: Task, train: TrainConfig, split: Batch) -> int:
    return len(split) if task.carries_state else train.batch_size
