"""Batches and splits: the data a task hands to the training loop.

A split is one `Batch` holding every example (N first). The loop draws batches from it with
`batches()`, whose order is a pure function of (seed, epoch), so a run resumes exactly from a
saved (epoch, batch) position, and whose shards split each global batch across processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class Batch:
    inputs: Tensor                          # (B, T) token ids or (B, T, I) features
    targets: Tensor                         # task-specific: (B, T), (B,), (B, K, I), (B, S)
    lengths: Tensor | None = None           # (B,) valid input steps
    target_lengths: Tensor | None = None    # (B,) for CTC and seq2seq
    future: Tensor | None = None            # (B, K, F) known-future features over the horizon (forecasting)
    series: Tensor | None = None            # (B,) each example's series index (per-series parameters)

    def to(self, device: torch.device | str) -> Batch:
        move = lambda t: None if t is None else t.to(device, non_blocking=True)
        return Batch(move(self.inputs), move(self.targets), move(self.lengths), move(self.target_lengths),
                     move(self.future), move(self.series))

    def select(self, index: Tensor | slice) -> Batch:
        """The examples at `index` along the batch dimension."""
        pick = lambda t: None if t is None else t[index]
        return Batch(self.inputs[index], self.targets[index], pick(self.lengths), pick(self.target_lengths),
                     pick(self.future), pick(self.series))

    def __len__(self) -> int:
        return self.inputs.size(0)


@dataclass(frozen=True)
class Splits:
    """The task's batches, and `ids`: what each split holds as JSON values ({"train": [...],
    "valid": [...], "test": [...]}: row indices, file names, series ids with cut points, text
    spans), with what decided them (e.g. "seed"). A run writes them to RUN_DIR/split.json, and its
    baselines are scored on exactly those examples."""

    train: Batch
    valid: Batch
    test: Batch | None = None
    ids: dict[str, Any] | None = None


def epoch_order(size: int, *, seed: int, epoch: int) -> Tensor:
    """The permutation of `size` examples for `epoch`: a function of (seed, epoch) only."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(size, generator=generator)


def batches(split: Batch, batch_size: int, *, shuffle: bool = False, seed: int = 0, epoch: int = 0,
            start: int = 0, drop_last: bool = False, rank: int = 0, world_size: int = 1) -> Iterator[Batch]:
    """Batches of `batch_size` examples from batch number `start` on. With world_size > 1 each
    global batch is cut into world_size equal shards and this process gets shard `rank`."""
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} must be divisible by the number of processes {world_size}")
    order = epoch_order(len(split), seed=seed, epoch=epoch) if shuffle else torch.arange(len(split))
    stop = len(split) - len(split) % batch_size if drop_last else len(split)
    shard = batch_size // world_size
    for begin in range(start * batch_size, stop, batch_size):
        index = order[begin:begin + batch_size]
        if world_size > 1:
            index = index[rank * shard:(rank + 1) * shard]
        yield split.select(index)


def num_batches(split: Batch, batch_size: int, *, drop_last: bool = False) -> int:
    return len(split) // batch_size if drop_last else -(-len(split) // batch_size)
