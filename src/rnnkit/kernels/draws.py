"""Zoneout's Bernoulli draws on the CPU from a counter-based generator: 14 times faster than
torch's `bernoulli_` (0.43 ms against 6.2 ms for a (32, 100, 256) float32 mask; MT19937 in torch
is sequential), which was a quarter of a zoneout LSTM's training step (docs/benchmarks.md).

Draw i of a call is SplitMix64's output for position i + 1 of the stream that starts at `seed`
(Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators"; the generator of
Java's SplittableRandom, which passes BigCrush): z = seed + (i + 1) γ, then two xor-shift-multiply
rounds. Its top 53 bits are a uniform integer u < 2^53, and the draw is 1 when u < ⌊p 2^53⌋.
Being a function of (seed, i) alone (Salmon et al. 2011, "Parallel random numbers: as easy as 1,
2, 3"), the draws need no state and come out the same from the compiled loop and from the torch
ops of `draws_reference`, so both kernel backends train on the same masks. The seed is one
number from torch's generator, so `torch.manual_seed` fixes the masks as before.

The GPU keeps torch's `bernoulli_` (its Philox generator is already parallel).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ._native_common import jit
from .backend import native

GAMMA, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB   # SplitMix64's constants
BITS = 53


def threshold(p: float) -> int:
    """⌊p 2^53⌋: u < it with probability p (to 2^-53) for u uniform below 2^53."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a Bernoulli probability must be in [0, 1], got {p!r}")
    return int(p * 2 ** BITS)


@jit
def _draw(out, seed, limit):  # pragma: no cover - compiled
    """out (flat, float) <- 1.0 where SplitMix64 draw i < limit, else 0.0. All arithmetic in uint64
    (wrapping); a signed operand would promote it to float64."""
    g, m1, m2 = np.uint64(GAMMA), np.uint64(MIX1), np.uint64(MIX2)
    s30, s27, s31, s11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(64 - BITS)
    one, zero = out.dtype.type(1), out.dtype.type(0)
    for i in range(out.shape[0]):
        z = seed + np.uint64(i + 1) * g
        z = (z ^ (z >> s30)) * m1
        z = (z ^ (z >> s27)) * m2
        z = z ^ (z >> s31)
        out[i] = one if (z >> s11) < limit else zero


def _signed(c: int) -> int:
    """A 64-bit pattern as torch's int64 holds it (two's complement)."""
    return c - 2 ** 64 if c >= 2 ** 63 else c


def _shift_right(z: Tensor, s: int) -> Tensor:
    """Logical right shift of int64 bit patterns (torch's >> on int64 is arithmetic)."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def draws_reference(count: int, seed: int) -> Tensor:
    """The first `count` values u < 2^53 of the stream at `seed`, as int64, in torch ops (wrapping
    int64 multiplication): the readable form of `_draw`."""
    z = torch.arange(1, count + 1, dtype=torch.int64) * _signed(GAMMA) + _signed(seed)
    z = (z ^ _shift_right(z, 30)) * _signed(MIX1)
    z = (z ^ _shift_right(z, 27)) * _signed(MIX2)
    z = z ^ _shift_right(z, 31)
    return _shift_right(z, 64 - BITS)


def bernoulli(shape: tuple[int, ...], p: float, like: Tensor, *, bits: bool = False) -> Tensor:
    """A tensor of `shape` on like's device: 1 with probability p, else 0, in like's dtype, or
    on the CPU with `bits` a bool tensor (True with probability p): one byte a draw, which the
    native loops keep as it is for backward (a quarter of float32's memory). The GPU always
    draws in like's dtype (its kernels take float carries)."""
    if like.device.type != "cpu" or not like.dtype.is_floating_point:
        return torch.empty(shape, dtype=like.dtype, device=like.device).bernoulli_(p)
    dtype = torch.bool if bits else like.dtype
    seed = int(torch.randint(0, 2 ** 63 - 1, (), dtype=torch.int64))          # torch's generator: manual_seed holds
    limit = threshold(p)
    count = int(np.prod(shape))
    if native("draws", like, smoke):
        out = torch.empty(count, dtype=dtype)
        _draw(out.numpy(), np.uint64(seed), np.uint64(limit))
    else:
        out = (draws_reference(count, seed) < limit).to(dtype)
    return out.view(shape)


def smoke(dtype: torch.dtype) -> None:
    """The compiled draw on a tiny input (what `backend.native` tries once per dtype)."""
    _draw(np.empty(4, dtype=np.float32 if dtype == torch.float32 else np.float64), np.uint64(1), np.uint64(1))
    _draw(np.empty(4, dtype=np.bool_), np.uint64(1), np.uint64(1))
