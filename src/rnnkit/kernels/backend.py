"""Which implementation runs the hand-written BPTT loops on the CPU: "native" (numba-compiled
loops, `*_native.py`: one BLAS GEMM and one fused pass per step) or "python" (the readable torch
loops they are tested against).

    RNNKIT_KERNELS=python rnnkit train ...          # or kernels.set_backend("python") / with using("python"):

"native" is the default. Where it cannot run (numba missing, no BLAS ?gemm found, a compile
error: e.g. no LLVM for this platform) rnnkit says so once, in one line on stderr, and runs the
Python loops; the GPU, dtypes other than float32/64 and CPU autocast always take the Python loops (cuDNN runs
the plain layers there). A kernel is tried on a tiny input the first time each (kernel, dtype)
is asked for, so a broken build shows at the first layer, not inside a training step. That first
try is also when numba compiles the loop (5 to 15 s per kernel and dtype on 2 cores, once per
installation; from the cache afterwards in well under a second): when it takes longer than
`NOTICE_AFTER_S`, one line on stderr says so while it runs, and one more how long it took, so a
first training step that stalls is explained.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

BACKENDS = ("native", "python")
NATIVE_DTYPES = (torch.float32, torch.float64)

_chosen = [os.environ.get("RNNKIT_KERNELS", "native")]
_tried: dict[tuple[str, torch.dtype], bool] = {}      # (kernel, dtype) -> built and ran
_failed: list[str] = []                               # the one-line reason, once one build failed
NOTICE_AFTER_S = 2.0                                  # a first try slower than this is compiling: say so


def set_backend(name: str) -> None:
    if name not in BACKENDS:
        raise ValueError(f"the kernel backend must be one of {list(BACKENDS)}, got {name!r} (RNNKIT_KERNELS?)")
    _chosen[0] = name


def current() -> str:
    return _chosen[0]


@contextmanager
def using(name: str) -> Iterator[None]:
    """The backend inside a with-block (the tests run every kernel test under each)."""
    before = current()
    set_backend(name)
    try:
        yield
    finally:
        _chosen[0] = before


def native(kernel: str, like: Tensor, smoke: Callable[[torch.dtype], None]) -> bool:
    """Whether `kernel`'s native loop should run on tensors like `like`. The first time per
    (kernel, dtype) `smoke(dtype)` runs it forward and backward on a tiny input; if that raises,
    the Python loops run from then on, after one line on stderr saying why."""
    if current() not in BACKENDS:
        set_backend(current())                        # an RNNKIT_KERNELS typo: a ValueError naming both
    if current() != "native" or like.device.type != "cpu" or like.dtype not in NATIVE_DTYPES or _failed:
        return False
    if torch.is_autocast_enabled("cpu"):            # bfloat16 autocast: torch's kernels cast, the loops would not
        return False
    key = (kernel, like.dtype)
    if key not in _tried:
        try:
            # its own random numbers: a first try must not move the caller's generator, or a run's
            # dropout masks would depend on whether this process had tried the kernel before (a
            # second run in a notebook, a resumed run) and resuming would not be exact
            with torch.enable_grad(), torch.random.fork_rng(devices=[]):
                _first_try(kernel, like.dtype, smoke)
            _tried[key] = True
        except Exception as error:                    # any build or run failure: fall back, say why once
            _tried[key] = False
            _failed.append(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
            print(f"rnnkit: the native CPU loops are unavailable ({_failed[0]}); running the Python loops, "
                  "which are slower (RNNKIT_KERNELS=python silences this)", file=sys.stderr, flush=True)
    return _tried[key]


def _first_try(kernel: str, dtype: torch.dtype, smoke: Callable[[torch.dtype], None]) -> None:
    """smoke(dtype), with a line on stderr if it is still running after NOTICE_AFTER_S (numba is
    compiling) and one when it ends."""
    name = str(dtype).removeprefix("torch.")
    noticed = threading.Event()

    def notice() -> None:
        noticed.set()
        print(f"rnnkit: compiling the native CPU loop for {kernel} ({name}); once per installation, "
              "cached for later runs ...", file=sys.stderr, flush=True)

    timer = threading.Timer(NOTICE_AFTER_S, notice)
    timer.daemon = True
    start = time.perf_counter()
    timer.start()
    try:
        smoke(dtype)
    finally:
        timer.cancel()
        if noticed.is_set():
            print(f"rnnkit: ... {kernel} ({name}) compiled in {time.perf_counter() - start:.1f} s",
                  file=sys.stderr, flush=True)


def reset() -> None:
    """Forget what was tried (tests that force a failure and then want the native path back)."""
    _tried.clear()
    _failed.clear()
