"""Pieces shared by the numba-compiled BPTT loops (`lstm_native`, `gru_native`, `elman_native`): tensors and
carries as the arrays the loops take, the two-sided lerp and per-step carry rows compiled into
them, and dW_hh as one torch GEMM after the loop.

The loops see every option as an array so that they have one signature per dtype: an absent
h_mask or valid is an empty (0, 0) array and an absent carry the weight 0, for which `lerp`
returns the new value exactly (see `_common` for the carry). A carry reaches the loops packed, as
one byte per weight and a table of the weights' values (`pack_carry`): zoneout's draws and
padding take only the values 0 and 1, so the (B, T, H) carries that backward keeps cost a quarter
(float32) or an eighth (float64) of the float tensors they come from (docs/benchmarks.md, memory).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ._blas import compute_function, gemm_w, packed_weight, supported
from ._blas import gemm_function as blas_gemm
from ._common import Carry, previous, scaled

try:
    import numba
except ImportError:                                   # pragma: no cover - exercised where numba is absent
    numba = None

NUMPY = {torch.float32: np.float32, torch.float64: np.float64}


def available() -> bool:
    return numba is not None and supported()


def check_dtype(name: str, fallback: str, x: Tensor) -> None:
    if x.dtype not in NUMPY:
        raise TypeError(f"{name} needs float32 or float64 tensors, got {x.dtype}; use {fallback}")


def gemm_function(dtype: torch.dtype):
    """The BLAS ?gemm the loops call for `dtype` (see `_blas`)."""
    return blas_gemm(NUMPY[dtype])


def carry_row(k, b, t, row):  # pragma: no cover - compiled
    """Step t's carry weights for sequence b, (H,), written into `row` and returned: k is a packed
    carry (codes (B or 1, T or 1, H or 1) uint8, table (m,)), whose weight is table[code]."""
    codes, table = k
    kt = codes[min(b, codes.shape[0] - 1), min(t, codes.shape[1] - 1)]
    if kt.shape[0] == 1:
        row[:] = table[kt[0]]
    elif table.shape[0] <= 2:        # a select, which LLVM vectorises (the gather below stays scalar)
        low, high = table[0], table[table.shape[0] - 1]
        for j in range(row.shape[0]):
            row[j] = high if kt[j] else low
    else:
        for j in range(row.shape[0]):
            row[j] = table[kt[j]]
    return row


def _encode(values, codes, table):  # pragma: no cover - compiled
    """codes[i] <- the index of values[i] in table, for flat values and codes; returns the number
    of table entries used, or -1 when values hold more distinct numbers than table has room for.
    The usual carry (0 and 1 only) takes one branch-free pass and the table [0, 1]."""
    zero, one = values.dtype.type(0), values.dtype.type(1)
    other = False
    for i in range(values.shape[0]):
        v = values[i]
        codes[i] = np.uint8(v == one)
        other |= (v != zero) & (v != one)
    if not other:
        table[0], table[1] = zero, one
        return 2
    used = 0
    for i in range(values.shape[0]):
        v, j = values[i], 0
        while j < used and table[j] != v:
            j += 1
        if j == used:
            if used == table.shape[0]:
                return -1
            table[used] = v
            used += 1
        codes[i] = np.uint8(j)
    return used


def lerp(start, end, k, one):  # pragma: no cover - compiled
    """start + k (end - start) in torch.lerp's two-sided form, exact at both ends: a padded step
    (k = 1) carries the state bit for bit, and k = 0 (no carry) leaves the new value as it is.
    `one` is 1 in the dtype (a literal 1 would promote float32 to float64)."""
    return start + k * (end - start) if k < 0.5 else end - (end - start) * (one - k)


def step_gemm(function, compute, w, wp, h0, hs, h_in, masked, acts, t, slots):  # pragma: no cover - compiled
    """acts[:, t] = h W_hhᵀ, the step's one forward GEMM, for acts (B, T, G) (or (B, 1, G) rewritten
    every step, when backward will not run) and w (G, H), where h is h_in (B, H) (the state times
    the recurrent dropout mask, when `masked`), h0 at t = 0 or else h_{t-1}, read in place from
    hs (B, T, H); wp: W packed for it (`blas_args`), or empty."""
    B, kept, G = acts.shape
    H, k = w.shape[1], min(t, kept - 1)
    if masked:
        gemm_w(function, compute, True, G, B, H, w, wp, h_in[0], H, acts[0, k], kept * G, 0.0, slots)
    elif t == 0:
        gemm_w(function, compute, True, G, B, H, w, wp, h0[0], H, acts[0, k], kept * G, 0.0, slots)
    else:
        gemm_w(function, compute, True, G, B, H, w, wp, hs[0, t - 1], hs.shape[1] * H, acts[0, k], kept * G, 0.0, slots)


if numba is not None:
    # error_model="numpy": no ZeroDivisionError branch, which would keep the callers' loops scalar
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    lerp = numba.njit(cache=True, inline="always", error_model="numpy")(lerp)
    carry_row, step_gemm, _encode = jit(carry_row), jit(step_gemm), jit(_encode)
else:                                                 # pragma: no cover - exercised where numba is absent
    jit = lambda f: f                                 # the loops then stay plain (unused) Python


PACK_MIN_STEPS = 4               # packing W_hh costs about one step's GEMM, and MKL's buffer is >= 8 MB
PACK_MIN_SIZE = 64 * 64          # below this many weights a step's GEMM is too cheap to gain from it
PACK_MIN_BATCH = 4               # one sequence makes the GEMM a mat-vec, slower packed (GRU at (50,1,32,64):
                                 # 0.41 of nn.GRU packed, 0.30 plain, in one process; docs/benchmarks.md)


def blas_args(w_hh: Tensor, dtype: torch.dtype, trans_w: bool, batch: int, steps: int) -> tuple:
    """(function, compute, wp): the first three arguments of a loop that runs `steps` per-step
    GEMMs of `batch` rows against W_hh (G, H), W_hhᵀ forward (trans_w) and W_hh backward: the BLAS
    ?gemm, and MKL's ?gemm_compute with W_hh packed once (`_blas.packed_weight`); wp is empty where
    packing does not pay or does not exist."""
    dt = NUMPY[dtype]
    G, H = w_hh.shape
    if steps < PACK_MIN_STEPS or batch < PACK_MIN_BATCH or G * H < PACK_MIN_SIZE:
        return gemm_function(dtype), compute_function(dt), np.empty(0, dt)
    m, k = (G, H) if trans_w else (H, G)
    return gemm_function(dtype), compute_function(dt), packed_weight(array(w_hh, dtype), trans_w, m, batch, k)


def array(x: Tensor, dtype: torch.dtype) -> np.ndarray:
    """A C-contiguous numpy view of x (a copy only if x is strided or of another dtype)."""
    return x.detach().to(dtype).contiguous().numpy()


PackedCarry = tuple[np.ndarray, np.ndarray]     # (codes (B or 1, T or 1, n) uint8, table (m,) of the weights)
TABLE = 256                                     # the most distinct weights one carry may hold


def pack_carry(k: Carry | PackedCarry, dtype: torch.dtype) -> PackedCarry:
    """A carry (see `_common`) as the loops take it: one byte per weight and the table of their
    values; no carry is the weight 0. A carry packed already is returned as it is."""
    if isinstance(k, tuple):
        return k
    if k is None or isinstance(k, (int, float)):
        return np.zeros((1, 1, 1), np.uint8), np.full(1, 0.0 if k is None else float(k), dtype=NUMPY[dtype])
    if k.dim() != 3:
        raise ValueError(f"a carry tensor must be (B, T, n), got shape {tuple(k.shape)}")
    if k.dtype == torch.bool:                          # zoneout's draws: the bytes as they are
        return k.detach().contiguous().view(torch.uint8).numpy(), np.array([0.0, 1.0], NUMPY[dtype])
    values = array(k, dtype)
    codes, table = np.empty(values.shape, np.uint8), np.empty(TABLE, NUMPY[dtype])
    used = _encode(values.reshape(-1), codes.reshape(-1), table)
    if used < 0:
        raise ValueError(f"a carry tensor may hold at most {TABLE} distinct weights (zoneout's draws are 0 "
                         f"or 1, padding 1, evaluation p); use the torch loops for arbitrary weights")
    return codes, table[:used].copy()


def options(h_mask: Tensor | None, keeps: tuple[Carry | PackedCarry, ...], valid: Tensor | None,
            like: Tensor) -> tuple[np.ndarray | PackedCarry, ...]:
    """(h_mask (B, H), *packed carries, valid (B, T), a (B, H) scratch) as the loops take them, for
    `like` (B, H); an absent h_mask or valid is an empty array, and so is the scratch without
    an h_mask (it holds the masked GEMM input forward, the GEMM output backward)."""
    B, H, dt = like.size(0), like.size(-1), like.dtype
    none = np.empty((0, 0), NUMPY[dt])
    return (none if h_mask is None else array(h_mask.expand(B, H), dt),
            *(pack_carry(k, dt) for k in keeps),
            none if valid is None else array(valid[..., 0], dt),
            none if h_mask is None else np.empty((B, H), NUMPY[dt]))


def weight_grad(grad_rec: Tensor, h0: Tensor, hs: Tensor, w_hh: Tensor, h_mask: Tensor | None,
                time_major: bool = False) -> Tensor:
    """dW_hh = Σ_t grad_rec_tᵀ h_in_t for grad_rec (B, T, G) (or (T, B, G) when `time_major`), one
    GEMM over all steps; zeros for T = 0 (where `previous` has no steps to shift)."""
    G = grad_rec.size(-1)
    if grad_rec.size(0 if time_major else 1) == 0:
        return torch.zeros_like(w_hh)
    mask = None if h_mask is None else h_mask if time_major else h_mask[:, None]
    h_in = scaled(previous(h0, hs, time_major=time_major), mask)           # grad_rec's layout, H wide
    return grad_rec.reshape(-1, G).t().mm(h_in.reshape(-1, h_in.size(-1)))   # (G, H)
