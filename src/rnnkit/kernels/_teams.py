"""A step's row passes split over torch's own OpenMP threads, from inside the numba loops.

A native loop's step is one BLAS GEMM (MKL runs it on torch's OpenMP threads) and then a pass
over the step's B rows (gates, layer norms, carries), which ran on one core while the others
idled. numba's own `prange` was tried for those passes and gained nothing: its OpenMP layer is a
second libgomp beside torch's, and the two pools' spinning threads contend for the cores after
every GEMM (docs/benchmarks.md). Here the loop hands the pass to the *same* pool the GEMM just
used, whose threads are still spinning: it calls libgomp's `GOMP_parallel` (the entry point that
`#pragma omp parallel` compiles to) in torch's library, with a numba `cfunc` as the region's body.

The body gets one pointer. It points to a `context`: an int64 array holding the step, the
addresses of libgomp's `omp_get_thread_num` / `omp_get_num_threads` (so that each thread takes its
own contiguous block of rows) and, for every array the pass needs, its address and three
dimensions; the body rebuilds the arrays with `numba.carray` (`get`). A loop that runs its pass
on one thread calls the same row function directly with every row, so one compiled pass serves
both ways and the results are the same bit for bit (each row's arithmetic does not depend on which
thread does it; sums across rows are kept per row and added in a fixed order afterwards).

Where torch's library has no libgomp (a build on another OpenMP runtime or none) `pool()` is None
and every pass runs on the calling thread, as before.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

try:
    import numba
    from llvmlite import ir
    from numba import carray, types
    from numba.core import cgutils
    from numba.extending import intrinsic
except ImportError:                                   # pragma: no cover - exercised where numba is absent
    numba = None

HEADER = 8        # context slots before the arrays': step, thread-number and team-size functions, rows, spare
SLOT = 4          # per array: address and three dimensions
MIN_ROW_WORK = 2048   # elements a step's pass must touch (rows x width) before a team beats one thread

_ONE: list[bool] = [False]                        # `one_thread` in force

_PARALLEL_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint)
_FOUND: list = []


def pool() -> tuple | None:
    """(GOMP_parallel as a ctypes function, address of omp_get_thread_num, of omp_get_num_threads)
    from torch's own libgomp, or None where torch ships none."""
    if not _FOUND:
        _FOUND.append(_find())
    return _FOUND[0]


def _find() -> tuple | None:
    for path in sorted(glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "libgomp*.so*"))):
        try:
            lib = ctypes.CDLL(path)
            parallel, number, size = (ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
                                      for name in ("GOMP_parallel", "omp_get_thread_num", "omp_get_num_threads"))
            return _PARALLEL_TYPE(parallel), number, size
        except (OSError, AttributeError):
            continue
    return None


def team(rows: int, width: int) -> int:
    """How many threads a loop's per-step pass over `rows` rows of `width` elements should use:
    torch's thread count where the pool exists and the pass is big enough to pay for waking the
    team (about a microsecond a step), else 1."""
    if _ONE[0] or pool() is None or rows < 2 or rows * width < MIN_ROW_WORK:
        return 1
    return max(1, min(torch.get_num_threads(), rows))


@contextmanager
def one_thread() -> Iterator[None]:
    """Inside the with-block every row pass runs on the calling thread (what the loops did before
    the teams: benchmarks/layers.py times both)."""
    before, _ONE[0] = _ONE[0], True
    try:
        yield
    finally:
        _ONE[0] = before


def context(arrays: int) -> np.ndarray:
    """A zeroed context for `arrays` arrays, with the pool's thread functions filled in (zeros where
    there is no pool: then nothing calls them)."""
    ctx = np.zeros(HEADER + SLOT * arrays, np.int64)
    found = pool()
    if found is not None:
        ctx[1], ctx[2] = found[1], found[2]
    return ctx


def parallel_function():
    """What the loops take as `parallel`: GOMP_parallel, or a stand-in of the same type that is never
    called (a loop with a team of one calls its row function directly)."""
    found = pool()
    return found[0] if found is not None else _PARALLEL_TYPE(ctypes.cast(_NEVER, ctypes.c_void_p).value)


_NEVER = ctypes.CFUNCTYPE(None)(lambda: None)


def put(ctx, i, a):  # pragma: no cover - compiled
    """Array slot i of the context <- a (3-D, C-contiguous; `put_1d`, `put_2d` for lower ranks)."""
    j = HEADER + SLOT * i
    ctx[j], ctx[j + 1], ctx[j + 2], ctx[j + 3] = a.ctypes.data, a.shape[0], a.shape[1], a.shape[2]


def put_1d(ctx, i, a):  # pragma: no cover - compiled
    """Slot i <- a (n,), as (1, 1, n)."""
    j = HEADER + SLOT * i
    ctx[j], ctx[j + 1], ctx[j + 2], ctx[j + 3] = a.ctypes.data, 1, 1, a.shape[0]


def put_2d(ctx, i, a):  # pragma: no cover - compiled
    """Slot i <- a (m, n) (C-contiguous), as (1, m, n)."""
    j = HEADER + SLOT * i
    ctx[j], ctx[j + 1], ctx[j + 2], ctx[j + 3] = a.ctypes.data, 1, a.shape[0], a.shape[1]


def get(ctx, i, dtype):  # pragma: no cover - compiled
    """The 3-D array in slot i, of `dtype` (a numpy scalar type)."""
    j = HEADER + SLOT * i
    return carray(_pointer(ctx[j]), (ctx[j + 1], ctx[j + 2], ctx[j + 3]), dtype)


def header(data, size):  # pragma: no cover - compiled
    """A parallel region's data pointer as the int64 context of `size` slots."""
    return carray(data, (size,), np.int64)


def dtype_of(data, scalar):  # pragma: no cover - compiled
    """`scalar` (np.float32 or np.float64) as the dtype a loop's arrays carry (`x.dtype`), so that the
    row function compiled for the loop is the one the region calls; reads nothing from `data`."""
    return carray(data, (0,), scalar).dtype


def span(ctx):  # pragma: no cover - compiled
    """(first row, end row, thread number) of the calling thread's block of the ctx[3] rows."""
    me, size, rows = _call_int(ctx[1]), _call_int(ctx[2]), ctx[3]
    return rows * me // size, rows * (me + 1) // size, me


def run(parallel, worker, ctx, threads):  # pragma: no cover - compiled
    """The team runs `worker` (a cfunc's address) on `ctx`: GOMP_parallel returns when all are done."""
    parallel(worker, ctx.ctypes, threads, 0)


if numba is not None:
    @intrinsic
    def _pointer(typingctx, address):
        """An int64 address as a void pointer, for `carray`."""
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], cgutils.voidptr_t)
        return types.voidptr(address), codegen

    @intrinsic
    def _call_int(typingctx, address):
        """Calls the C function `int f(void)` at the int64 address (libgomp's omp_get_thread_num)."""
        def codegen(context, builder, signature, args):
            function = ir.FunctionType(ir.IntType(32), [])
            result = builder.call(builder.inttoptr(args[0], function.as_pointer()), [])
            return builder.sext(result, ir.IntType(64))
        return types.int64(address), codegen

    _inline = numba.njit(cache=True, nogil=True, inline="always")
    put, get, span, run = _inline(put), _inline(get), _inline(span), _inline(run)
    header, dtype_of, put_1d, put_2d = _inline(header), _inline(dtype_of), _inline(put_1d), _inline(put_2d)


def choose(rows: int, width: int, body) -> tuple[int, int]:
    """(threads, the address of `body` compiled, or 0) for a loop whose per-step pass covers `rows`
    rows of `width` elements: what the loops take as `team`."""
    threads = team(rows, width)
    return (1, 0) if threads == 1 else (threads, worker(body))


def prepare(*bodies) -> None:
    """Compiles the `bodies` now where a loop could use a team (a kernel's first try, so that a
    failure shows there and not inside a training step)."""
    if team(2, MIN_ROW_WORK) > 1:
        for body in bodies:
            worker(body)


def worker(function):
    """`function(data)` (a plain Python function over a void pointer) compiled as the body of a
    parallel region, once per process (from numba's cache after the first): its address."""
    if function not in _WORKERS:
        _WORKERS[function] = numba.cfunc(types.void(types.voidptr), cache=True, nopython=True)(function).address
    return _WORKERS[function]


_WORKERS: dict = {}
