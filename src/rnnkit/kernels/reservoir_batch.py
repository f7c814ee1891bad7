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
float64, one thread; docs/benchmarks.md): the product runs at 7-9 GFMA/s through torch's MKL
against 1.7 for scipy's CSR x dense and 1-4 for numba loops over a (H, lanes) block, which LLVM
leaves scalar or 4-wide here (numba's SLP vectoriser is off); the dense product of the old loop did
10x the arithmetic. Where numba and MKL's product can be called directly (`_mkl_sparse`: x86-64
with torch's MKL), a thread's chunks are one compiled call that releases the GIL (`_chunks_loop`):
per chunk it gathers the sorted sequences' inputs and states into scratch buffers, and per step it
runs a small GEMM for W_in u_t into an L2-sized z, MKL's product added in place, then tanh, leak
and the output rows. Against the Python loop around torch's `addmm` (kept as the reference and
where the direct call is missing) that took a run from 86-90 ms to 49-50 on one thread: 11 ms of
Python per step and of torch's per-call handle, 9 of hoisted inputs going through memory, and 8
of per-chunk gathers, transposes and calls (one call per chunk, as the first version of this loop
made, cost 0.2 ms each). Of the rest, the product is about 20 ms, the tanh pass 10 and writing the
(B, T, H) output 20, of which half is the first touch of its fresh pages on this VM (huge pages
and MAP_POPULATE were slower here, and non-temporal stores gained nothing). Without numba, the
step's tanh, leak and output write run as torch ops; with numba but no direct product, as one
compiled pass (`_finish_step`) after torch's product.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from . import _mkl_sparse, backend
from ._blas import gemm, scratch
from ._fastmath import tanh
from ._native_common import NUMPY, gemm_function, jit, lerp
from ._native_common import available as numba_available

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
                        weight: Tensor, leak: float, *, workers: int = 1) -> tuple[Tensor, Tensor]:
    """All states (B, T, H) of B sequences x: (B, T, I) on the CPU from h0: (B, H), each run for its
    own length (B,), zero after it, and each one's final state (B, H) (h0 for an empty one).
    `weight` is W as a CSR (or dense) tensor. With workers > 1 (`chunk_threads`) torch should run
    on one thread (the caller's `_threads(1)`). The compiled loops run under the kernel backend's
    rules (`backend.native`: RNNKIT_KERNELS=python, or a failed first compile, keeps the torch
    ops)."""
    compiled = _finish is not None and backend.native("reservoir_batch", x, _smoke)
    return _batch_states(x, h0, lengths, weight_ih, bias, weight, leak, workers, compiled)


def _smoke(dtype: torch.dtype) -> None:
    """The first try of the compiled loops (`backend.native`): 3 sequences through a 6-unit CSR
    reservoir, by the MKL loop where it is available and by the compiled pass."""
    w = torch.eye(6, dtype=dtype).roll(1, 0) * 0.5
    csr = _mkl_sparse.int32_csr(w)
    args = (torch.ones(3, 4, 2, dtype=dtype), torch.zeros(3, 6, dtype=dtype), torch.tensor([4, 1, 3]),
            torch.ones(6, 2, dtype=dtype), torch.zeros(6, dtype=dtype))
    for weight in (csr, w):                          # the second: no direct product (a dense W)
        _batch_states(*args, weight, 0.5, 1, True)


def _batch_states(x: Tensor, h0: Tensor, lengths: Tensor, weight_ih: Tensor, bias: Tensor, weight: Tensor,
                  leak: float, workers: int, compiled: bool) -> tuple[Tensor, Tensor]:
    batch, steps, _ = x.shape
    size = weight.size(0)
    out = np.zeros((batch, steps, size), dtype=NUMPY[x.dtype])
    last = torch.empty(batch, size, dtype=x.dtype)              # (B, H): every row written below
    order = torch.argsort(lengths, descending=True, stable=True)
    sorted_lengths = lengths[order]
    first = np.arange(0, batch, CHUNK, dtype=np.int64)
    # what a thread takes at a time (shared: next() is atomic under the GIL): one thread takes all the
    # chunks in one call; several take one chunk each, so that a thread slowed by another process
    # only takes fewer
    starts = iter(first[None] if workers == 1 else first[:, None])
    mm = _direct_product(weight) if compiled else None
    if mm is not None:
        work = lambda: _compiled_chunks(x, h0, order, sorted_lengths, weight_ih, bias, weight, leak,  # noqa: E731
                                        out, last.numpy(), mm, starts)
    else:
        work = lambda: _python_chunks(x, h0, order, sorted_lengths.tolist(), weight_ih, bias, weight,  # noqa: E731
                                      leak, out, _finish if compiled else None, starts)
    if workers == 1:
        work()
    else:
        with ThreadPoolExecutor(workers) as pool:
            for done in [pool.submit(work) for _ in range(workers)]:
                done.result()                                   # re-raises a worker's exception
    y = torch.from_numpy(out)
    return y, (last if mm is not None else last_valid(y, h0, lengths))


def last_valid(y: Tensor, h0: Tensor, lengths: Tensor) -> Tensor:
    """(B, H): each sequence's state at its last valid step of y (B, T, H), h0 (B, H) for an empty one."""
    last = y[torch.arange(y.size(0), device=y.device), (lengths - 1).clamp(min=0)]
    empty = lengths == 0
    return torch.where(empty[:, None], h0, last) if bool(empty.any()) else last


def _direct_product(weight: Tensor):
    """MKL's `mkl_sparse_?_mm` for the compiled step loop, or None where the loop stays in Python
    (no numba, a dense W, or no direct call: `_mkl_sparse`)."""
    if _chunks is None or weight.layout != torch.sparse_csr or weight.crow_indices().dtype != torch.int32:
        return None
    return _mkl_sparse.mm_function(NUMPY[weight.dtype])


def _compiled_chunks(x: Tensor, h0: Tensor, order: Tensor, lengths: Tensor, weight_ih: Tensor, bias: Tensor,
                     weight: Tensor, leak: float, out: np.ndarray, last: np.ndarray, mm, starts) -> None:
    """One thread's share of the chunks, each array of chunk starts from `starts` in one compiled
    call (`_chunks_loop`) through MKL's product `mm` on this thread's handle on W."""
    steps, inputs = x.shape[1:]
    size, dtype = weight.size(0), NUMPY[x.dtype]
    xs = np.empty((steps, inputs, CHUNK), dtype)                # this thread's scratch: a chunk's inputs,
    z, h = np.empty((size, CHUNK), dtype), np.empty((size, CHUNK), dtype)   # pre-activations and states
    xn, sorted_by, by_length = x.contiguous().numpy(), order.numpy(), lengths.numpy().astype(np.int64)
    w_in, b, h_0 = weight_ih.contiguous().numpy(), bias.contiguous().numpy(), h0.contiguous().numpy()
    # torch's thread count for MKL's calls in this thread too (a chunk thread has run no torch op)
    with _mkl_sparse.Handle(weight) as handle, _mkl_sparse.threads_here(torch.get_num_threads()):
        for batch in starts:
            _chunks(mm, handle.value, gemm_function(x.dtype), xn, sorted_by, by_length, batch, w_in, b, h_0,
                    xs, z, h, leak, out, last)


def _python_chunks(x: Tensor, h0: Tensor, order: Tensor, lengths: list[int], weight_ih: Tensor, bias: Tensor,
                   weight: Tensor, leak: float, out: np.ndarray, finish, starts) -> None:
    """One thread's share of the chunks, each through `_run_chunk` (torch's product per step)."""
    size, steps = weight.size(0), x.size(1)
    buffer = x.new_empty(size * steps * CHUNK)                  # one per thread, reused: a fresh large
    for batch in starts:                                        # tensor costs a page fault per page
        for start in batch.tolist():
            chunk_lengths = lengths[start:start + CHUNK]
            if chunk_lengths[0] == 0:                           # every sequence from here on is empty
                return
            index = order[start:start + CHUNK]
            shape = (size, chunk_lengths[0], len(index))
            inputs = buffer[:shape[0] * shape[1] * shape[2]].view(shape)
            _run_chunk(x[index], h0[index], chunk_lengths, weight_ih, bias, weight, leak, inputs, out,
                       index.numpy(), finish)


def _run_chunk(x: Tensor, h0: Tensor, lengths: list[int], weight_ih: Tensor, bias: Tensor, weight: Tensor,
               leak: float, inputs: Tensor, out: np.ndarray, rows: np.ndarray, finish) -> None:
    """Runs n sequences sorted by length (longest first) and writes their states to out[rows];
    `inputs` (H, T, n) is scratch space for W_in u_t + b, all steps in one GEMM; `finish`: the
    compiled `_finish_step`, or None for torch ops."""
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
        if finish is not None:                          # one compiled pass, the GIL released
            finish(z.numpy(), h.numpy(), leak, out, rows, t)
            continue
        z.tanh_()
        h = torch.lerp(h, z, leak) if leak != 1.0 else z
        out[rows[:live], t] = h.numpy().T               # numpy's transposing copy: 3x torch's speed here


def _chunks_loop(mm, handle, gemm_fn, x, order, lengths, starts, w_in, bias, h0, xs, z, h, leak,  # pragma: no cover
                 out, last):
    """`_run_chunk` for the chunks that start at `starts`, compiled: x (B, T, I), h0 (B, H) and
    out (B, T, H) in the caller's order, `order` the sequences sorted by length (longest first)
    and `lengths` theirs (int64). Per chunk its inputs (T, I, n) and states (H, n) are gathered
    into the thread's scratch xs and h (width CHUNK: n columns used); per step z (H, n) = W_in u_t
    (BLAS) + W h (MKL's sparse product, in place) for the live columns only, then tanh(z + b), the
    leak and the output rows. At the chunk's end each column of h holds its sequence's final state
    (an ended column is no longer updated), copied to last (B, H); an empty sequence's is h0. z and
    h keep the width CHUNK, the live columns first (leading dimension CHUNK), so nothing is
    copied, and z stays in the cache: the Python loop's hoisted (H, T, n) inputs went through
    memory, which on the 2-core VM (about 9 GB/s) cost more than the BLAS calls it saved."""
    batch, inputs = x.shape[0], x.shape[2]
    size, width = h.shape
    slots = scratch(z.dtype)
    lo, hi = _mkl_sparse.DESCR
    k, one = z.dtype.type(leak), z.dtype.type(1)
    for s in starts:
        n = min(width, batch - s)
        if lengths[s] == 0:                             # sorted: the chunk's sequences are all empty
            for j in range(n):
                row, start = last[order[s + j]], h0[order[s + j]]
                for i in range(size):
                    row[i] = start[i]
            continue
        from_zero = True
        for j in range(n):                              # (T, I, n) and (H, n): one column per sequence
            seq = order[s + j]
            for t in range(lengths[s + j]):
                for i in range(inputs):
                    xs[t, i, j] = x[seq, t, i]
            for i in range(size):
                h[i, j] = h0[seq, i]
                from_zero = from_zero and h0[seq, i] == 0
        live = n
        for t in range(lengths[s]):
            while lengths[s + live - 1] <= t:           # sorted: the ended sequences are the last columns
                live -= 1
            # row-major z (H, live) = W_in (H, I) u_t (I, live) is column-major zᵀ = u_tᵀ W_inᵀ (see _blas)
            gemm(gemm_fn, False, live, size, inputs, xs[t], w_in, w_in.shape[1], z, width, 0.0, slots)
            if t > 0 or not from_zero:                  # W 0 = 0: the first step from rest needs no product
                status = mm(_mkl_sparse.NON_TRANSPOSE, 1.0, handle, lo, hi, _mkl_sparse.ROW_MAJOR, h.ctypes, live,
                            width, 1.0, z.ctypes, width)
                if status != _mkl_sparse.SUCCESS:
                    raise RuntimeError("mkl_sparse_?_mm failed")
            for i in range(size):                       # h <- lerp(h, tanh(z + b), leak), as _finish_step
                zi, hrow, b = z[i], h[i], bias[i]
                for j in range(live):
                    hrow[j] = lerp(hrow[j], tanh(zi[j] + b), k, one)
            for j in range(live):
                row = out[order[s + j], t]
                for i in range(size):
                    row[i] = h[i, j]
        for j in range(n):
            row = last[order[s + j]]
            for i in range(size):
                row[i] = h[i, j]


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


if numba_available():
    _finish = jit(_finish_step)
    _chunks = jit(_chunks_loop)
else:
    _finish = _chunks = None
