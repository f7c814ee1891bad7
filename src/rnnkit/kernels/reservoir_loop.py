"""The echo state network's state loop compiled with numba: no per-step interpreter or dispatch cost.

A reservoir step is one mat-vec, a tanh and a lerp (Jaeger 2001; leaky integration as in
Jaeger et al. 2007):

    h_t = (1 - a) h_{t-1} + a tanh(pre_t + W h_{t-1}),     pre_t = W_in u_t + b  (hoisted, one GEMM)

For small reservoirs (up to a few hundred units) the work per step is a few microseconds, so a
Python loop over torch or numpy ops spends most of its time between the ops, not in them; a
compiled loop does not. Measured on one core, the gain is
modest and only for the smallest reservoirs (100 units float64: 5.0 against 8.0 us per step);
from 150 units on the numpy loop's BLAS mat-vec and scipy's CSR mat-vec beat this loop's
scalar gather and libm tanh, so `reservoir.py` uses it only up to `_COMPILED_LOOP_UP_TO` units.
W is used dense (row-major, so each row's dot product reads contiguous memory) or as CSR for
sparse reservoirs, where ESNs usually live (density 0.01-0.1) and the mat-vec then touches only
the nonzeros. The readable loop this must agree with is `ReservoirCell.reference_scan`.

One sparse sequence above that size runs `stream_states` instead: a Python loop over the steps whose
mat-vec is compiled (`_csr_matvec_add`, uint32 indices) and whose tanh is numpy's vectorised one.

numba is optional: without it `available()` is False and the cell keeps its numpy/torch loops.
The first call compiles (about a second) and the machine code is cached next to this file.
"""

from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:                                   # pragma: no cover - exercised where numba is absent
    numba = None


def available() -> bool:
    return numba is not None


def _loop(pre, h0, dense, indptr, indices, data, leak, keep, out):  # pragma: no cover - compiled
    """pre: (B, T, H); h0: (B, H); W either `dense` (H, H), row-major so each row's dot product
    reads contiguous memory, or (when `dense` is (0, 0)) CSR `indptr, indices, data`; keep: (B, T)
    bool, or (0, 0) for no padding; out: (B, T, H), written. Padded steps keep h and output 0."""
    batch, steps, size = pre.shape
    masked = keep.shape[0] > 0
    is_dense = dense.shape[0] > 0
    h = h0.copy()
    z = np.empty(size, dtype=pre.dtype)
    for b in range(batch):
        hb = h[b]
        for t in range(steps):
            if masked and not keep[b, t]:
                out[b, t, :] = 0
                continue
            pt = pre[b, t]
            for i in range(size):
                acc = pt[i]
                if is_dense:
                    row = dense[i]
                    for j in range(size):
                        acc += row[j] * hb[j]
                else:
                    for k in range(indptr[i], indptr[i + 1]):
                        acc += data[k] * hb[indices[k]]
                z[i] = np.tanh(acc)
            for i in range(size):
                hb[i] += leak * (z[i] - hb[i])
                out[b, t, i] = hb[i]
    return h


if numba is not None:
    # fastmath lets LLVM reorder the dense dot products into SIMD lanes (12 -> 5 us per step at 100
    # units); the sums then differ from the reference loop's by rounding only (tests: 1e-10 relative
    # in float64).
    _loop = numba.njit(cache=True, nogil=True, fastmath=True)(_loop)


def _csr_matvec_add(indptr, indices, data, h, z):  # pragma: no cover - compiled
    """z += W h for W in CSR form (indptr, indices, data)."""
    for i in range(z.shape[0]):
        acc = z[i]
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * h[indices[k]]
        z[i] = acc


if numba is not None:
    # Unsigned indices spare numba's negative-index wrap-around test on every gather: 10.6 against 34
    # us per mat-vec at 500 units (scipy's CSR kernel: 17, plus 3 of Python dispatch per call).
    _csr_matvec_add = numba.njit(cache=True, nogil=True, fastmath=True)(_csr_matvec_add)


def csr_arrays(weight) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A scipy CSR matrix as the (indptr, indices, data) that `stream_states` takes: uint32 indices."""
    return weight.indptr.astype(np.uint32), weight.indices.astype(np.uint32), weight.data


def stream_states(pre: np.ndarray, h0: np.ndarray, csr: tuple, leak: float, steps: int) -> np.ndarray:
    """One sequence's states, written over its hoisted inputs pre (T, H) (returned): per step the
    compiled CSR mat-vec adds W h to the row that holds W_in u_t + b, then numpy's tanh (numba's is
    libm's scalar one, 10x slower) and the leak; rows from `steps` on are zeroed (padding)."""
    h, other = h0, np.empty_like(h0)
    for t in range(steps):
        z = pre[t]
        _csr_matvec_add(*csr, h, z)
        np.tanh(z, out=z)
        if leak != 1.0:                                 # (1 - a) h + a z, as the reference loop
            np.multiply(z, leak, out=z)
            np.multiply(h, 1.0 - leak, out=other)
            z += other
        h = z
    pre[steps:] = 0
    return pre


def reservoir_loop(pre: np.ndarray, h0: np.ndarray, weight, leak: float, keep: np.ndarray | None) -> np.ndarray:
    """All reservoir states, (B, T, H), for hoisted inputs `pre` (B, T, H) from states `h0` (B, H).
    `weight` is W as a dense (H, H) array or a scipy CSR matrix; `keep` (B, T) marks valid steps."""
    out = np.empty_like(pre)
    mask = np.zeros((0, 0), dtype=np.bool_) if keep is None else np.ascontiguousarray(keep, dtype=np.bool_)
    leak = pre.dtype.type(leak)
    if isinstance(weight, np.ndarray):
        none = np.zeros(0, dtype=np.int32)
        _loop(pre, h0, weight, none, none, np.zeros(0, dtype=pre.dtype), leak, mask, out)
    else:
        _loop(pre, h0, np.zeros((0, 0), dtype=pre.dtype), weight.indptr.astype(np.int32),
              weight.indices.astype(np.int32), weight.data, leak, mask, out)
    return out
