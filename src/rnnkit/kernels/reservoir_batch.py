"""Many sequences through one sparse reservoir at once: a sparse-dense product per step over the batch.

One sequence needs a sparse mat-vec W h per step; B sequences share W, so one step of all of them
is one CSR x dense product W [h_1 ... h_B] (torch's CSR `addmm`, MKL's SpMM on x86 CPUs), which
reads each nonzero of W once per step instead of once per sequence and step:

    H_t = (1 - a) H_{t-1} + a tanh(W_in U_t + b + W H_{t-1}),      H_t: (H, n), one column per sequence

Variable lengths cost only their valid steps: the sequences are sorted by length (longest first)
and cut into chunks of `CHUNK`, each run over its own longest length; inside a chunk the columns
of the sequences that have ended are dropped, so a step multiplies only the live ones. Chunks are
independent, so `workers` threads take them one at a time (torch and numpy release the GIL in
their kernels): unlike an OpenMP product split over threads there is no per-step barrier, and a
thread slowed by another process only takes fewer chunks. The output is allocated zeroed by numpy
(calloc, pages mapped on first write) and each step writes only the live sequences' rows.

Measured on JapaneseVowels-sized work (640 sequences of 7-29 steps, 500 units, density 0.1,
float64, one thread; docs/benchmarks.md): the product runs at 7-9 GFMA/s through MKL against 1.7
for scipy's CSR x dense and 1-4 for numba loops over a (H, lanes) block, which LLVM leaves scalar
or 4-wide here (numba's SLP vectoriser is off); the dense product of the old loop did 10x the
arithmetic. Per call, the product is about 40% of the time, writing the (B, T, H) output about
a quarter (fresh pages), tanh a tenth. After the product a step's tanh, leak and output write are
one compiled pass that releases the GIL (`_finish_step`; the torch ops where numba is missing):
as four torch calls and a numpy scatter they held the GIL about half of each step, so two chunk
threads ran only 1.3x one; with the pass 1.6x (docs/benchmarks.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from ._fastmath import tanh
from ._native_common import available as numba_available
from ._native_common import jit, lerp

CHUNK = 32          # sequences per chunk: 32 columns of 500 units ran the product fastest (8.5-9.4 GFMA/s,
                    # against 7.4 at 128 and 5.1 at 640, where the block leaves the L2 cache)
_THREADS_FROM = (4, 500_000)    # chunk threads from 4 chunks whose per-step product is at least this many
                                # multiply-adds: smaller ops wait on the GIL's hand-over between threads
                                # (2 threads on 640 sequences: 0.56x at 50 units, 1.2x at 200, 1.8x at 500)


def chunk_threads(batch: int, weight: Tensor, threads: int) -> int:
    """How many chunk threads pay for `batch` sequences through W (1 where the ops are too small)."""
    nonzeros = weight.values().numel() if weight.layout == torch.sparse_csr else weight.numel()
    return threads if batch >= _THREADS_FROM[0] * CHUNK and nonzeros * CHUNK >= _THREADS_FROM[1] else 1


def sparse_batch_states(x: Tensor, h0: Tensor, lengths: Tensor, weight_ih: Tensor, bias: Tensor,
                        weight: Tensor, leak: float, *, workers: int = 1) -> Tensor:
    """All states (B, T, H) of B sequences x: (B, T, I) on the CPU from h0: (B, H), each run for its
    own length (B,); zero after it. `weight` is W as a CSR (or dense) tensor. With workers > 1
    (`chunk_threads`) torch should run on one thread (the caller's `_threads(1)`)."""
    batch, steps, _ = x.shape
    size = weight.size(0)
    out = np.zeros((batch, steps, size), dtype=torch.empty(0, dtype=x.dtype).numpy().dtype)
    order = torch.argsort(lengths, descending=True, stable=True)
    sorted_lengths = lengths[order].tolist()
    chunk = CHUNK
    starts = iter(range(0, batch, chunk))                       # shared: next() is atomic under the GIL

    def work() -> None:
        buffer = x.new_empty(size * steps * chunk)              # one per thread, reused: a fresh large
        for start in starts:                                    # tensor costs a page fault per page
            chunk_lengths = sorted_lengths[start:start + chunk]
            if chunk_lengths[0] == 0:                           # every sequence from here on is empty
                return
            index = order[start:start + chunk]
            shape = (size, chunk_lengths[0], len(index))
            inputs = buffer[:shape[0] * shape[1] * shape[2]].view(shape)
            _run_chunk(x[index], h0[index], chunk_lengths, weight_ih, bias, weight, leak, inputs, out,
                       index.numpy())

    if workers == 1:
        work()
    else:
        with ThreadPoolExecutor(workers) as pool:
            for done in [pool.submit(work) for _ in range(workers)]:
                done.result()                                   # re-raises a worker's exception
    return torch.from_numpy(out)


def _run_chunk(x: Tensor, h0: Tensor, lengths: list[int], weight_ih: Tensor, bias: Tensor, weight: Tensor,
               leak: float, inputs: Tensor, out: np.ndarray, rows: np.ndarray) -> None:
    """Runs n sequences sorted by length (longest first) and writes their states to out[rows];
    `inputs` (H, T, n) is scratch space for W_in u_t + b, all steps in one GEMM."""
    size, steps, n = inputs.shape
    torch.addmm(bias[:, None], weight_ih, x[:, :steps].permute(2, 1, 0).reshape(-1, steps * n),
                 out=inputs.view(size, steps * n))
    h = h0.t().contiguous()                                                          # (H, n)
    from_zero = not bool(h.any())
    live = n
    for t in range(steps):
        while lengths[live - 1] <= t:                   # sorted: the ended sequences are the last columns
            live -= 1
        if live < h.size(1):
            h = h[:, :live].contiguous()
        if t == 0 and from_zero:                        # W 0 = 0: the first step from rest needs no product
            z = inputs[:, 0, :live].clone()
        else:
            z = torch.addmm(inputs[:, t, :live], weight, h)                           # (H, live)
        if _finish is not None:                         # one compiled pass, the GIL released
            _finish(z.numpy(), h.numpy(), leak, out, rows, t)
            continue
        z.tanh_()
        h = torch.lerp(h, z, leak) if leak != 1.0 else z
        out[rows[:live], t] = h.numpy().T               # numpy's transposing copy: 3x torch's speed here


def _finish_step(z, h, leak, out, rows, t):  # pragma: no cover - compiled
    """h (H, n) <- lerp(h, tanh(z), leak) for z (H, n) = W h + W_in u_t + b (torch.lerp's two-sided
    form: exact at leak 1), then out[rows[j], t] <- h[:, j]: what the torch ops above do in four
    passes and a scatter, in two passes over L1-sized rows."""
    H, n = z.shape
    k = z.dtype.type(leak)
    for i in range(H):
        zi, hi = z[i], h[i]
        for j in range(n):
            hi[j] = lerp(hi[j], tanh(zi[j]), k, z.dtype.type(1))
    for j in range(n):
        row = out[rows[j], t]
        for i in range(H):
            row[i] = h[i, j]


_finish = jit(_finish_step) if numba_available() else None
