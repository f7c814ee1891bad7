"""The echo state network's state loops, without gradients (`ReservoirCell.scan`'s fast path).

A reservoir step is one mat-vec, a tanh and a lerp (Jaeger 2001; leaky integration as in
Jaeger et al. 2007):

    h_t = (1 - a) h_{t-1} + a tanh(pre_t + W h_{t-1}),     pre_t = W_in u_t + b  (hoisted, one GEMM)

Which loop runs depends on the size (measured in perf-notes section 6 and docs/benchmarks.md): on
the CPU the numba loop of small reservoirs (`reservoir_loop.py`, W dense or CSR) when numba is
installed; one larger sparse sequence steps through numba's CSR mat-vec and numpy's tanh
(`reservoir_loop.stream_states`, `_streams`); several (`_BATCH_FROM`) through a sparse reservoir
run together, one CSR x dense product per step over the batch (`reservoir_batch.py`); else a
numpy loop up to 1,000 units (the mat-vec dense, or scipy CSR for one sparse sequence), else torch
ops with W as a CSR float matrix for sparse reservoirs and dense otherwise, on one thread or on as
many as are faster (`_adaptive`). The readable loop all of them must agree with is
`Cell.reference_scan`; the torch loop's results do not depend on its thread count.

Each loop's form of W is derived from the cell's `weight_hh` on first use and kept on the cell
until W changes (`_derived`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from . import _mkl_sparse, reservoir_batch, reservoir_loop

_COMPILED_LOOP_UP_TO = 128      # at or below this, the numba loop (kernels/reservoir_loop.py) when installed:
                                # 5.0 vs 8.0 us/step at 100 units f64 (f32 5.5 vs 5.7), but from 150 units on
                                # numpy's dense gemv loop wins (250 f32: 20 vs 10 us); docs/benchmarks.md
_NUMPY_LOOP_UP_TO = 1000        # at or below this, a numpy loop beats torch's per-op overhead
_SCIPY_CSR_ABOVE = 256          # and above this its mat-vec is scipy CSR (perf-notes 6: 22 vs 34 us at 500)
_DENSE_ABOVE_DENSITY = 0.3      # sparser reservoirs run a CSR mat-vec (perf-notes section 6)
_ONE_THREAD_UP_TO = 1000        # a mat-vec this small loses to OpenMP's per-step barrier: 57 us/step on
                                # one thread vs 220-430 us on two at 500 units f64, with a busy 2nd core
_PROBE_STEPS = 32               # above it, the loop times this many steps on all threads and on one, and
_REPROBE_EVERY = 2000           # keeps the faster until the next probe: on two idle cores 2 threads win
                                # (2.11x vs 1.41x ReservoirPy at 2000 units), but when another process
                                # takes a core every step waits at the barrier (0.75x); docs/benchmarks.md
_BATCH_FROM = 8                 # from this many sequences a sparse reservoir runs them all at once, one
                                # CSR x dense product per step (reservoir_batch.py; docs/benchmarks.md)


def echo_state_scan(cell: Any, x: Tensor, h0: Tensor, mask: Tensor | None) -> tuple[Tensor, tuple[Tensor]]:
    """Runs a reservoir cell (`weight_ih`, `bias`, `weight_hh`, `leak`, `density`, `hidden_size`)
    over x: (B, T, I) from h0: (B, H), under no graph: the input projection for all steps in one
    GEMM, then per step one mat-vec, tanh and lerp into a preallocated output; several sequences
    through a sparse reservoir on the CPU run together, one CSR x dense product per step
    (`reservoir_batch`). Returns y: (B, T, H) and the final state (each sequence's last valid one
    under `mask` (B, T))."""
    with torch.no_grad():
        lengths = _batch_lengths(cell, x, mask)
        if lengths is not None:
            w = _recurrent_matrix(cell)
            workers = reservoir_batch.chunk_threads(x.size(0), w, torch.get_num_threads())
            # chunk threads run torch on one thread each; else a large reservoir's product takes torch's
            big = workers == 1 and cell.hidden_size > _ONE_THREAD_UP_TO
            with _threads(torch.get_num_threads() if big else 1):
                y, last = reservoir_batch.sparse_batch_states(x, h0, lengths, cell.weight_ih, cell.bias, w,
                                                              cell.leak, workers=workers)
            return y, (last,)
        pre = F.linear(x, cell.weight_ih, cell.bias)                          # (B, T, H)
        y = _states(cell, pre, h0, mask, x.device.type == "cpu")
    return y, (y[:, -1].clone() if mask is None else reservoir_batch.last_valid(y, h0, mask.sum(1)),)


def _batch_lengths(cell: Any, x: Tensor, mask: Tensor | None) -> Tensor | None:
    """Each sequence's length (B,) when the batched sparse loop should run: several sequences on the
    CPU through a sparse reservoir, padded only at their ends (a `lengths` mask); else None."""
    batch, steps = x.shape[:2]
    if x.device.type != "cpu" or batch < _BATCH_FROM or cell.density > _DENSE_ABOVE_DENSITY:
        return None
    if mask is None:
        return torch.full((batch,), steps, dtype=torch.long)
    lengths = mask.sum(1)
    prefix = torch.arange(steps, device=mask.device)[None, :] < lengths[:, None]
    return lengths if torch.equal(prefix, mask) else None


def _states(cell: Any, pre: Tensor, h0: Tensor, mask: Tensor | None, cpu: bool) -> Tensor:
    """All states (B, T, H) from the hoisted inputs, by the loop that is fastest at this size."""
    if cpu and cell.hidden_size <= _COMPILED_LOOP_UP_TO and reservoir_loop.available():
        keep = None if mask is None else mask.numpy()
        return torch.from_numpy(reservoir_loop.reservoir_loop(
            pre.numpy(), h0.detach().numpy(), _compiled_matrix(cell), cell.leak, keep))
    if cpu and pre.size(0) == 1 and _streams(cell):
        steps = _prefix_length(mask[0]) if mask is not None else pre.size(1)
        if steps is not None:
            return torch.from_numpy(reservoir_loop.stream_states(
                pre[0].numpy(), h0[0].detach().numpy().copy(), _stream_matrix(cell), cell.leak, steps))[None]
    if cpu and cell.hidden_size <= _NUMPY_LOOP_UP_TO:
        return _numpy_loop(pre, h0, _numpy_matrix(cell, pre.size(0)), cell.leak, mask)
    threads = 1 if cpu and cell.hidden_size <= _ONE_THREAD_UP_TO else torch.get_num_threads()
    return _torch_loop(pre, h0, _recurrent_matrix(cell), cell.leak, mask, threads if cpu else 0)


def _derived(cell: Any, name: str, key: tuple, make: Callable[[], Any]) -> Any:
    """A form of W made by `make`, kept on the cell under `name` until `key` (W's storage, version
    and dtype) changes: a derived copy, not state (STYLE 2), so neither a buffer nor saved."""
    cache = cell.__dict__.get(name)
    if cache is None or cache[0] != key:
        cache = (key, make())
        cell.__dict__[name] = cache
    return cache[1]


def _key(weight: Tensor) -> tuple:
    return (weight.data_ptr(), weight._version, weight.dtype)


def _recurrent_matrix(cell: Any) -> Tensor:
    """W for the torch loop: a CSR tensor for sparse reservoirs on the CPU, else W itself."""
    weight = cell.weight_hh
    if cell.density > _DENSE_ABOVE_DENSITY or weight.device.type != "cpu":
        return weight

    return _derived(cell, "_csr_cache", _key(weight), lambda: _mkl_sparse.int32_csr(weight))


def _compiled_matrix(cell: Any) -> Any:
    """W for the compiled loop: scipy CSR for sparse reservoirs, else a dense C-order array."""
    def make() -> Any:
        w = np.ascontiguousarray(cell.weight_hh.detach().cpu().numpy())
        if cell.density <= _DENSE_ABOVE_DENSITY:
            import scipy.sparse
            w = scipy.sparse.csr_matrix(w)
        return w

    return _derived(cell, "_compiled_cache", _key(cell.weight_hh), make)


def _streams(cell: Any) -> bool:
    """Whether one sequence runs `reservoir_loop.stream_states`: a sparse reservoir, numba installed,
    and one thread, or no more units than _ONE_THREAD_UP_TO. Its compiled mat-vec beats scipy's
    kernel (`benchmarks/esn.py speed`: fit + run in 0.76x the time of the bare scipy mat-vecs at 500
    units, 0.99x at 2,000), but above 1,000 units torch's CSR loop on two idle cores was 1.4x faster
    still, and it keeps its thread probe for busy machines."""
    return (cell.density <= _DENSE_ABOVE_DENSITY and reservoir_loop.available()
            and (cell.hidden_size <= _ONE_THREAD_UP_TO or torch.get_num_threads() == 1))


def _stream_matrix(cell: Any) -> tuple:
    def make() -> tuple:
        import scipy.sparse
        return reservoir_loop.csr_arrays(scipy.sparse.csr_matrix(cell.weight_hh.detach().cpu().numpy()))

    return _derived(cell, "_stream_cache", _key(cell.weight_hh), make)


def _prefix_length(keep: Tensor) -> int | None:
    """The number of valid steps if `keep` (T,) marks a prefix (a `lengths` mask), else None."""
    length = int(keep.sum())
    return length if bool(keep[:length].all()) else None


def _numpy_matrix(cell: Any, batch: int) -> Any:
    """W^T as a dense array (h @ W^T), or, for one sparse sequence, W as scipy CSR (W @ h)."""
    sparse = batch == 1 and cell.hidden_size > _SCIPY_CSR_ABOVE and cell.density <= _DENSE_ABOVE_DENSITY

    def make() -> Any:
        w = cell.weight_hh.detach().cpu().numpy()
        if sparse:
            import scipy.sparse
            return scipy.sparse.csr_matrix(w)
        return w.T.copy()

    return _derived(cell, "_numpy_cache", (*_key(cell.weight_hh), sparse), make)


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    if n == previous:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _numpy_loop(pre: Tensor, h0: Tensor, matrix: Any, leak: float, mask: Tensor | None) -> Tensor:
    p = pre.cpu().numpy()                                                    # (B, T, H)
    keep = None if mask is None else mask.cpu().numpy()
    h = h0.cpu().numpy().copy()                                              # (B, H)
    out = np.empty_like(p)
    dense = isinstance(matrix, np.ndarray)
    for t in range(p.shape[1]):
        z = h @ matrix if dense else (matrix @ h[0])[None]                   # (B, H)
        z += p[:, t]
        np.tanh(z, out=z)
        new = h + leak * (z - h) if leak != 1.0 else z
        if keep is not None:
            new = np.where(keep[:, t, None], new, h)
            out[:, t] = new * keep[:, t, None]
        else:
            out[:, t] = new
        h = new
    return torch.from_numpy(out).to(pre.device)


def _torch_loop(pre: Tensor, h0: Tensor, weight: Tensor, leak: float, mask: Tensor | None,
                threads: int = 0) -> Tensor:
    """The state loop in torch ops. On the CPU with threads > 1 the thread count is chosen by timing
    (`_adaptive`); threads = 0 leaves torch's setting alone (GPUs)."""
    # Columns are batch entries: (T, H, B), so a CSR W multiplies from the left (W h), and with
    # B = 1 every step is one addmv on contiguous vectors.
    pre_t = pre.permute(1, 2, 0).contiguous()                                # (T, H, B)
    out = torch.empty_like(pre_t)
    h = h0.t().contiguous()                                                  # (H, B)
    z = torch.empty_like(h)
    vector = pre_t.size(2) == 1
    keep = None if mask is None else mask.t()[:, None, :]                    # (T, 1, B)

    def run(start: int, stop: int) -> None:
        nonlocal h
        for t in range(start, stop):
            if vector:
                torch.addmv(pre_t[t, :, 0], weight, h[:, 0], out=z[:, 0])
            else:
                torch.addmm(pre_t[t], weight, h, out=z)
            z.tanh_()
            if keep is None:
                torch.lerp(h, z, leak, out=out[t])
                h = out[t]
            else:
                h = torch.where(keep[t], torch.lerp(h, z, leak), h)
                out[t] = h * keep[t]

    if threads > 1:
        _adaptive(pre_t.size(0), run, threads)
    elif threads == 1:
        with _threads(1):
            run(0, pre_t.size(0))
    else:
        run(0, pre_t.size(0))
    return out.permute(2, 0, 1).contiguous()                                 # (B, T, H)


def _adaptive(steps: int, run: Any, threads: int, clock: Any = None) -> list[int]:
    """Runs run(start, stop) over [0, steps), every _REPROBE_EVERY steps timing _PROBE_STEPS steps on
    `threads` threads and as many on one, and going on with the faster (an OpenMP step waits for
    every thread, so one descheduled thread stalls them all). Each row of a mat-vec is summed by one
    thread, so the thread count does not change the results. Returns the thread count of each stretch."""
    clock = clock or time.perf_counter
    t, chosen, best = 0, [], threads
    while t < steps:
        if steps - t > 4 * _PROBE_STEPS:                # too short a rest to probe: keep the last choice
            seconds = {}
            for n in (threads, 1):
                with _threads(n):
                    start = clock()
                    run(t, t + _PROBE_STEPS)
                    seconds[n] = clock() - start
                t += _PROBE_STEPS
            best = min(seconds, key=seconds.__getitem__)
        stop = min(steps, t + _REPROBE_EVERY)
        with _threads(best):
            run(t, stop)
        chosen.append(best)
        t = stop
    return chosen
