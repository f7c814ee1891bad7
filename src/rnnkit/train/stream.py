"""The training split as a stream of truncated-BPTT chunks, and the iteration count it makes:
`stream()` replays exactly from a saved position; `total_iterations()` also checks that the
data fit the batch size and the BPTT length before anything is trained."""

from __future__ import annotations

import random
from collections.abc import Iterator

from ..config import TrainConfig
from ..data.batch import Batch, Splits, batches, num_batches
from .protocols import TrainedTask
from .tbptt import chunk_sizes, split_time


def stream(task: TrainedTask, data: Splits, train: TrainConfig, seed: int, start: tuple[int, int, int],
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


def total_iterations(train: TrainConfig, data: Splits, task: TrainedTask) -> int:
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


def eval_interval(train: TrainConfig, total: int) -> int:
    """Iterations between evaluations: train.eval_every, or train.eval_every_epochs epochs of
    `total` (which then counts train.epochs epochs), so one config suits any amount of data."""
    if not train.eval_every_epochs:
        return train.eval_every
    return max(1, total * train.eval_every_epochs // train.epochs)


def eval_batch_size(task: TrainedTask, train: TrainConfig, split: Batch) -> int:
    """A stream task evaluates its parallel streams in one batch; others in train.batch_size."""
    return len(split) if task.carries_state else train.batch_size
