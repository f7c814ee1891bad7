"""Truncated backpropagation through time (Williams & Peng 1990): cut a batch into chunks along
time, carry the state from one chunk into the next, and detach it at every boundary so no
gradient flows past the chunk that produced it."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ..data.batch import Batch


def chunk_sizes(steps: int, bptt: int, *, rng: random.Random | None = None) -> list[int]:
    """Chunk lengths covering `steps` time steps: all `bptt` (the last shorter), or, given
    `rng`, AWD-LSTM's variable lengths (Merity et al. 2017, section 4.1): a base of bptt with
    probability 0.95 and bptt / 2 otherwise, then a length drawn from N(base, 5), at least 5.
    bptt == 0 is full BPTT: one chunk."""
    if bptt <= 0 or bptt >= steps:
        return [steps]
    sizes, done = [], 0
    while done < steps:
        size = bptt
        if rng is not None:
            base = bptt if rng.random() < 0.95 else bptt / 2
            size = max(5, int(rng.gauss(base, 5)))
        size = min(size, steps - done)
        sizes.append(size)
        done += size
    return sizes


def split_time(batch: Batch, sizes: int | Sequence[int]) -> list[Batch]:
    """`batch` cut along time into chunks of `sizes` (an int: equal chunks; 0: one chunk).
    Per-step targets (B, T, ...) are cut with the inputs; lengths become each chunk's valid
    steps, clamped to [0, chunk length]."""
    steps = batch.inputs.size(1)
    if isinstance(sizes, int):
        sizes = chunk_sizes(steps, sizes)
    if len(sizes) == 1:
        return [batch]
    if batch.targets.dim() < 2 or batch.targets.size(1) != steps:
        raise ValueError(f"truncated BPTT needs per-step targets (B, T, ...), got targets of shape "
                         f"{tuple(batch.targets.shape)}; set train.bptt = 0 for full BPTT")
    chunks, start = [], 0
    for size in sizes:
        lengths = None if batch.lengths is None else (batch.lengths - start).clamp(0, size)
        chunks.append(Batch(batch.inputs[:, start:start + size], batch.targets[:, start:start + size],
                            lengths, batch.target_lengths))
        start += size
    return chunks


def detach(state: Any) -> Any:
    """The same nested tuple of tensors, cut from the graph (truncates backpropagation here)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(detach(s) for s in state)
    return state.detach()
