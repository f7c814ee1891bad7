"""The plain GRU's BPTT loop (`gru.GRULoop` without layer norm) compiled with numba, as
`lstm_native` does for the LSTM: per step one BLAS GEMM against W_hh and one fused pass over the
step's rows, with nothing allocated inside the loop.

    forward:   a_t = h_in W_hhᵀ  (GEMM, β = 0);  h_rzn = a_t + b_hh
               r, z = σ(x_rz + h_rz),  n = tanh(x_n + r ⊙ h_n),  h̃ = lerp(n, h_{t-1}, z)
               h_t = lerp(h̃, h_{t-1}, k),  h_in = h_t ⊙ h_mask
    backward:  with d = (1 - k) dh_t (dL/dh̃):
               dx_n = d (1 - z) (1 - n²),  dh_n = r dx_n,  dr = dx_n h_n σ'(r),
               dz = d (h_{t-1} - n) σ'(z)  (dx_rz = dh_rz);
               dh_{t-1} = k dh_t + z d + v dy_{t-1} + (dh_rzn W_hh) ⊙ h_mask   (GEMM, see `lstm_native`)

h̃ is torch.lerp(n, h, z), the form `GRULoop` uses, so that the two agree to round-off. The loop
keeps h_n (B, T, H) beside r, z, n for backward instead of `GRULoop`'s whole h_rzn. dW_hh and
db_hh are one torch op each over all steps after the loop. The arguments and results are
`GRULoop`'s for ln=False (gain_hh is b_hh, bias_hh None); the layer-norm GRU's loop,
`gru_ln_native`, runs LN_hh and then these same row functions.

A step's pass over its B sequences is split over torch's OpenMP threads where it is big enough
(`_teams`, as in `lstm_native`).

numba is optional: without it `available()` is False. The first call per dtype compiles and the
machine code is cached next to this file.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._blas import gemm_w, scratch
from ._common import Carry
from ._fastmath import sigmoid, tanh
from ._native_common import (
    NUMPY,
    array,
    blas_args,
    carry_row,
    check_dtype,
    jit,
    lerp,
    options,
    step_gemm,
    weight_grad,
)
from ._native_common import available as available
from ._teams import (
    HEADER,
    SLOT,
    choose,
    context,
    dtype_of,
    get,
    header,
    parallel_function,
    prepare,
    put,
    put_1d,
    put_2d,
    run,
    span,
)
from .workspace import empty


@jit
def _forward_row(a, x, bias, hp, k, hm, v, h_n, h, h_in, y):  # pragma: no cover - compiled
    """One sequence's step. a (3H): W_hh h_in on entry, r, z, n on exit; x (3H): the hoisted
    input projection; bias (3H): b_hh; hp: h_{t-1}; k (H): the carry. Writes h_n, the new state
    h, h ⊙ hm into h_in and v h into y (when those are not empty). Every loop starts at 0 and
    offsets its index: numba's loops over range(H, 2H) stayed scalar (see `lstm_native`)."""
    H, one = h.shape[0], h.dtype.type(1)
    for j in range(2 * H):
        a[j] = sigmoid(a[j] + bias[j] + x[j])                                # r, z
    for j in range(H):
        h_n[j] = a[2 * H + j] + bias[2 * H + j]
        a[2 * H + j] = tanh(x[2 * H + j] + a[j] * h_n[j])                     # n = tanh(x_n + r h_n)
    for j in range(H):
        h_new = lerp(a[2 * H + j], hp[j], a[H + j], one)                      # h̃ = (1 - z) n + z h
        h[j] = lerp(h_new, hp[j], k[j], one)                                  # zoneout / padding
    for j in range(h_in.shape[0]):
        h_in[j] = h[j] * hm[j]
    for j in range(y.shape[0]):
        y[j] = v * h[j]


# The arrays of a step's row pass, as slots of its `_teams` context (forward; backward below).
ACTS, XP, BIAS, H0, HS, KEEP, KEEP_TABLE, H_MASK, VALID, H_N, H_IN, Y, ROWS = range(13)
FORWARD_CONTEXT = HEADER + SLOT * 13


@jit
def _forward_rows(ctx, lo, hi, me, dt):  # pragma: no cover - compiled
    """Rows lo..hi-1 of forward's step ctx[0], on team thread `me` (its carry row)."""
    t = ctx[0]
    acts, xp, hs, h_n, y = get(ctx, ACTS, dt), get(ctx, XP, dt), get(ctx, HS, dt), get(ctx, H_N, dt), get(ctx, Y, dt)
    h0, h_mask, valid, h_in = get(ctx, H0, dt)[0], get(ctx, H_MASK, dt)[0], get(ctx, VALID, dt)[0], \
        get(ctx, H_IN, dt)[0]
    bias, keep = get(ctx, BIAS, dt)[0, 0], (get(ctx, KEEP, np.uint8), get(ctx, KEEP_TABLE, dt)[0, 0])
    row = get(ctx, ROWS, dt)[0, me]
    none, one, k = row[:0], dt.type(1), min(t, acts.shape[1] - 1)
    masked, has_y = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(lo, hi):
        _forward_row(acts[b, k], xp[b, t], bias, h0[b] if t == 0 else hs[b, t - 1], carry_row(keep, b, t, row),
                     h_mask[b] if masked else none, valid[b, t] if has_y else one, h_n[b, k], hs[b, t],
                     h_in[b] if masked else none, y[b, t] if has_y else none)


def _forward_team32(data):  # pragma: no cover - compiled
    ctx = header(data, FORWARD_CONTEXT)
    lo, hi, me = span(ctx)
    _forward_rows(ctx, lo, hi, me, dtype_of(data, np.float32))


def _forward_team64(data):  # pragma: no cover - compiled
    ctx = header(data, FORWARD_CONTEXT)
    lo, hi, me = span(ctx)
    _forward_rows(ctx, lo, hi, me, dtype_of(data, np.float64))


@jit
def _forward(function, compute, wp, parallel, team, ctx, rows,
             xp, h0, w, bias, h_mask, keep, valid, acts, h_n, hs, y, h_in):  # pragma: no cover
    """xp: (B, T, 3H); h0: (B, H); w: W_hh (3H, H); bias (3H); h_mask (B, H) or (0, 0); keep: the
    carry (see `carry_row`); valid (B, T) or (0, 0). Writes acts (B, T, 3H), h_n, hs (B, T, H), y
    when valid is given, and uses h_in (B, H) (or (0, 0) without h_mask) as the GEMM input. When
    backward will not run, acts and h_n are (B, 1, ·), rewritten every step. team, ctx: the row
    passes' threads and context (`_teams`, see `lstm_native`); rows (1, threads, H): carry rows."""
    B, T, G = xp.shape
    threads, dt = team[0], xp.dtype
    slots = scratch(xp.dtype)
    put(ctx, ACTS, acts)
    put(ctx, XP, xp)
    put(ctx, HS, hs)
    put(ctx, H_N, h_n)
    put(ctx, Y, y)
    put(ctx, ROWS, rows)
    put(ctx, KEEP, keep[0])
    put_1d(ctx, KEEP_TABLE, keep[1])
    put_1d(ctx, BIAS, bias)
    put_2d(ctx, H0, h0)
    put_2d(ctx, H_MASK, h_mask)
    put_2d(ctx, VALID, valid)
    put_2d(ctx, H_IN, h_in)
    ctx[3] = B
    masked = h_mask.shape[0] > 0
    if masked:
        h_in[:] = h0 * h_mask
    for t in range(T):
        step_gemm(function, compute, w, wp, h0, hs, h_in, masked, acts, t, slots)
        ctx[0] = t
        if threads > 1:
            run(parallel, team[1], ctx, threads)
        else:
            _forward_rows(ctx, 0, B, 0, dt)


@jit
def _backward_row(gx, gr, a, h_n, hp, k, hm, rec, dh, gy, v):  # pragma: no cover - compiled
    """One sequence's step of backward. On entry dh (H) is dL/dh_t but for the recurrent term
    rec ⊙ hm of step t+1 (added here; empty hm: the GEMM added it already). Writes gx = dL/dxp_t
    and gr = dL/dh_rzn (3H) and leaves in dh the part of dL/dh_{t-1} that does not pass through
    W_hh: k dh_t + z d + v dy_{t-1} (gy empty at t = 0)."""
    H = dh.shape[0]
    one = dh.dtype.type(1)
    for j in range(hm.shape[0]):
        dh[j] += hm[j] * rec[j]
    for j in range(H):
        r, z, n = a[j], a[H + j], a[2 * H + j]
        d = dh[j] * (one - k[j])                                              # dL/dh̃
        dn = d * (one - z) * (one - n * n)                                    # dL/dx_n
        dr = dn * h_n[j] * (r - r * r)
        dz = d * (hp[j] - n) * (z - z * z)
        gx[j], gx[H + j], gx[2 * H + j] = dr, dz, dn
        gr[j], gr[H + j], gr[2 * H + j] = dr, dz, dn * r
        dh[j] = k[j] * dh[j] + z * d
    for j in range(gy.shape[0]):
        dh[j] += v * gy[j]


GRAD_X_, GRAD_REC_, ACTS_, H_N_, H0_, HS_, KEEP_, KEEP_TABLE_, H_MASK_, REC_, DH_, GRAD_Y_, VALID_, ROWS_ = range(14)
BACKWARD_CONTEXT = HEADER + SLOT * 14


@jit
def _backward_rows(ctx, lo, hi, me, dt):  # pragma: no cover - compiled
    """Rows lo..hi-1 of backward's step ctx[0], on team thread `me`."""
    t = ctx[0]
    grad_x, grad_rec, acts, h_n, hs, grad_y = get(ctx, GRAD_X_, dt), get(ctx, GRAD_REC_, dt), get(ctx, ACTS_, dt), \
        get(ctx, H_N_, dt), get(ctx, HS_, dt), get(ctx, GRAD_Y_, dt)
    h0, h_mask, rec, dh, valid = get(ctx, H0_, dt)[0], get(ctx, H_MASK_, dt)[0], get(ctx, REC_, dt)[0], \
        get(ctx, DH_, dt)[0], get(ctx, VALID_, dt)[0]
    keep = get(ctx, KEEP_, np.uint8), get(ctx, KEEP_TABLE_, dt)[0, 0]
    row = get(ctx, ROWS_, dt)[0, me]
    none, one, T = row[:0], dt.type(1), acts.shape[1]
    masked, has_v = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(lo, hi):
        _backward_row(grad_x[b, t], grad_rec[b, t], acts[b, t], h_n[b, t], h0[b] if t == 0 else hs[b, t - 1],
                      carry_row(keep, b, t, row), h_mask[b] if masked and t < T - 1 else none,
                      rec[b] if masked else none, dh[b], grad_y[b, t - 1] if t > 0 else none,
                      valid[b, t - 1] if has_v and t > 0 else one)


def _backward_team32(data):  # pragma: no cover - compiled
    ctx = header(data, BACKWARD_CONTEXT)
    lo, hi, me = span(ctx)
    _backward_rows(ctx, lo, hi, me, dtype_of(data, np.float32))


def _backward_team64(data):  # pragma: no cover - compiled
    ctx = header(data, BACKWARD_CONTEXT)
    lo, hi, me = span(ctx)
    _backward_rows(ctx, lo, hi, me, dtype_of(data, np.float64))


FORWARD_TEAM = {torch.float32: _forward_team32, torch.float64: _forward_team64}
BACKWARD_TEAM = {torch.float32: _backward_team32, torch.float64: _backward_team64}


@jit
def _backward(function, compute, wp, parallel, team, ctx, rows,
              w, h0, h_mask, keep, valid, acts, h_n, hs, grad_y, grad_h, grad_x, grad_rec,
              dh, rec):  # pragma: no cover - compiled
    """The forward's saved acts, h_n, hs and the output gradients -> grad_x, grad_rec (B, T, 3H)
    and dL/dh_0 in dh (B, H). rec (B, H) holds dh_rzn W_hh when there is an h_mask. team, ctx,
    rows: as forward's."""
    B, T, G = acts.shape
    H, threads, dt = G // 3, team[0], acts.dtype
    slots = scratch(acts.dtype)
    put(ctx, GRAD_X_, grad_x)
    put(ctx, GRAD_REC_, grad_rec)
    put(ctx, ACTS_, acts)
    put(ctx, H_N_, h_n)
    put(ctx, HS_, hs)
    put(ctx, GRAD_Y_, grad_y)
    put(ctx, ROWS_, rows)
    put(ctx, KEEP_, keep[0])
    put_1d(ctx, KEEP_TABLE_, keep[1])
    put_2d(ctx, H0_, h0)
    put_2d(ctx, H_MASK_, h_mask)
    put_2d(ctx, REC_, rec)
    put_2d(ctx, DH_, dh)
    put_2d(ctx, VALID_, valid)
    ctx[3] = B
    one = acts.dtype.type(1)
    masked, has_v = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(B):
        dh[b] = grad_h[b] + (valid[b, T - 1] if has_v else one) * grad_y[b, T - 1]
    for t in range(T - 1, -1, -1):
        ctx[0] = t
        if threads > 1:
            run(parallel, team[1], ctx, threads)
        else:
            _backward_rows(ctx, 0, B, 0, dt)
        if masked:
            gemm_w(function, compute, False, H, B, G, w, wp, grad_rec[0, t], T * G, rec[0], H, 0.0, slots)
        else:
            gemm_w(function, compute, False, H, B, G, w, wp, grad_rec[0, t], T * G, dh[0], H, 1.0, slots)
    if masked:
        dh += h_mask * rec


class NativeGRULoop(torch.autograd.Function):
    """`GRULoop` for the plain GRU (ln=False), compiled: the same arguments and results.
    xp: (B, T, 3H) gate inputs in order (r, z, n); W_hh (3H, H); gain_hh: b_hh (3H) or None;
    bias_hh: None; h_mask (B, H); keep_h: a carry (None, a float or (B, T, n), n in {1, H});
    valid (B, T, 1)."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, w_hh: Tensor, gain_hh: Tensor | None,
                bias_hh: Tensor | None, h_mask: Tensor | None, keep_h: Carry,
                valid: Tensor | None, ln: bool, eps: float):
        if ln or bias_hh is not None:
            raise ValueError("NativeGRULoop runs the plain GRU only (ln=False, bias_hh None); "
                             "use GRULoop for the layer-norm cell")
        check_dtype("NativeGRULoop", "GRULoop", xp)
        B, T, G = xp.shape
        H, dt = G // 3, xp.dtype
        kept = T if any(ctx.needs_input_grad) else min(T, 1)     # inference: one step of gates and h_n
        acts, h_n, hs = empty((B, kept, G), dt), empty((B, kept, H), dt), empty((B, T, H), dt)
        y = hs if valid is None else empty((B, T, H), dt)
        hm, kh, v, h_in = options(h_mask, (keep_h,), valid, h0)   # the carry packed: bytes, see `pack_carry`
        if xp.numel():                                # BLAS rejects zero leading dimensions
            bias = np.zeros(G, NUMPY[dt]) if gain_hh is None else array(gain_hh, dt)
            threads = choose(B, G, FORWARD_TEAM[dt])
            _forward(*blas_args(w_hh, dt, True, B, T), parallel_function(), threads, context(13),
                     np.empty((1, threads[0], H), NUMPY[dt]), array(xp, dt), array(h0, dt), array(w_hh, dt), bias,
                     hm, kh, v, acts.numpy(), h_n.numpy(), hs.numpy(), y.numpy(), h_in)
        ctx.save_for_backward(h0, w_hh, h_mask, valid, acts, h_n, hs)
        ctx.keep = kh                                 # what backward keeps of (B, T, H) zoneout draws
        return y, (hs[:, -1] if T else h0).clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, grad_h):
        h0, w_hh, h_mask, valid, acts, h_n, hs = ctx.saved_tensors
        B, T, G = acts.shape
        dt = acts.dtype
        grad_x, grad_rec = empty((B, T, G), dt), empty((B, T, G), dt)   # dL/dxp, dL/dh_rzn
        dh = grad_h.clone(memory_format=torch.contiguous_format)    # the loop needs C order (its GEMMs)
        if acts.numel():
            hm, kh, v, rec = options(h_mask, (ctx.keep,), valid, h0)
            threads = choose(B, G, BACKWARD_TEAM[dt])
            _backward(*blas_args(w_hh, dt, False, B, T), parallel_function(), threads, context(14),
                      np.empty((1, threads[0], G // 3), NUMPY[dt]), array(w_hh, dt), array(h0, dt), hm, kh, v,
                      acts.detach().numpy(), h_n.detach().numpy(), hs.detach().numpy(), array(grad_y, dt),
                      array(grad_h, dt), grad_x.numpy(), grad_rec.numpy(), dh.numpy(), rec)
        grad_w = weight_grad(grad_rec, h0, hs, w_hh, h_mask) if ctx.needs_input_grad[2] else None
        grad_b = grad_rec.reshape(-1, G).sum(0) if ctx.needs_input_grad[3] else None     # d b_hh
        return (grad_x, dh, grad_w, grad_b) + (None,) * 6


def smoke(dtype: torch.dtype) -> None:
    """This loop forward and backward on a tiny input: what `backend.native` tries once per dtype."""
    xp, w = torch.randn(2, 3, 6, dtype=dtype, requires_grad=True), torch.randn(6, 2, dtype=dtype, requires_grad=True)
    bias, h0 = torch.zeros(6, dtype=dtype, requires_grad=True), torch.zeros(2, 2, dtype=dtype)
    y, h = NativeGRULoop.apply(xp, h0, w, bias, None, None, 0.5, None, False, 0.0)
    (y.sum() + h.sum()).backward()
    prepare(FORWARD_TEAM[dtype], BACKWARD_TEAM[dtype])      # the row passes' parallel regions, compiled now too
