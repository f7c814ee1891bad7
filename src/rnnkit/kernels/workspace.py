"""Big arrays for the native loops, kept and reused instead of asked of the OS on every call.

glibc serves an allocation above its mmap threshold (32 MiB at most) with fresh pages, and the
first write to each 4 KiB page of them faults into the kernel. A GRU training step at (T, B, I, H)
= (200, 64, 256, 512) allocates about 290 MB of such arrays (the gates, the states and their
gradients, 78 MB each) and spent about 90 of its 420 ms on those faults; torch.nn's unfused GRU
allocates one step at a time, below the threshold, and does not (docs/benchmarks.md, "Reused
arrays"). So arrays of MIN_BYTES or more come from a pool here: when the last tensor or view of
one is freed its memory returns to the pool, and a later request that it fits takes it again
(at most SLACK times larger than asked, so that varying lengths still reuse). The pool keeps at
most `limit()` bytes of free memory, dropping the longest unused first; `release()` gives all of
it back to the system, as torch.cuda.empty_cache does for the GPU's caching allocator.

The buffers are torch allocations (as the loops' arrays were before), seen through numpy so that
a weak-reference callback can tell when the last view of one is gone: `torch.from_numpy` keeps
its array alive exactly as long as the tensor's storage.
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np
import torch
from torch import Tensor

__all__ = ["MIN_BYTES", "SLACK", "empty", "held", "limit", "release", "set_limit"]

MIN_BYTES = 4 << 20           # smaller arrays come from the heap already (glibc reuses them)
SLACK = 2                     # a free buffer serves requests down to 1/SLACK of its size
NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.uint8: np.uint8}

_lock = threading.Lock()
_free: list[np.ndarray] = []  # uint8 buffers no tensor uses, oldest freed first
_limit = [1 << 30]            # bytes of free buffers kept at most


def empty(shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
    """An uninitialised CPU tensor of `shape` and `dtype`, from the pool when it is big."""
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES or dtype not in NUMPY:
        return torch.empty(shape, dtype=dtype)
    with _lock:
        fits = [i for i, b in enumerate(_free) if nbytes <= b.nbytes <= SLACK * nbytes]
        buffer = _free.pop(min(fits, key=lambda i: _free[i].nbytes)) if fits else None
    if buffer is None:
        buffer = torch.empty(nbytes, dtype=torch.uint8).numpy()
    view = buffer[:nbytes].view(NUMPY[dtype]).reshape(shape)
    weakref.finalize(view, _give_back, buffer).atexit = False
    return torch.from_numpy(view)


def _give_back(buffer: np.ndarray) -> None:
    with _lock:
        _free.append(buffer)
        _trim(_limit[0])


def _trim(limit: int) -> None:
    total = sum(b.nbytes for b in _free)
    while _free and total > limit:
        total -= _free.pop(0).nbytes


def held() -> int:
    """Bytes of free memory the pool keeps now."""
    with _lock:
        return sum(b.nbytes for b in _free)


def limit() -> int:
    return _limit[0]


def set_limit(nbytes: int) -> None:
    """Keep at most `nbytes` of free memory (0: keep none, every array fresh from the system)."""
    if nbytes < 0:
        raise ValueError(f"the pool's limit is a number of bytes >= 0, got {nbytes}")
    with _lock:
        _limit[0] = nbytes
        _trim(nbytes)


def release() -> None:
    """Gives every free buffer back to the system (arrays in use are not touched)."""
    with _lock:
        _free.clear()
