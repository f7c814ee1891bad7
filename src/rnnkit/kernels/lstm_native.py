"""The plain LSTM's BPTT loop (`lstm.LSTMLoop` without layer norm) compiled with numba.

`LSTMLoop` runs about ten small torch ops per step, forward and backward, and at the sizes RNNs
train at on a CPU much of the time goes to dispatching them rather than to the arithmetic. Here
each step is one BLAS GEMM against W_hh and one fused pass over the step's rows, with nothing
allocated inside the loop:

    forward:   a_t = h_in W_hhᵀ  (GEMM, β = 0)
               o, i, f = σ(a_o + xp_o, ...); g = tanh(a_g + xp_g); c̃ = f c + i g; h̃ = o tanh(c̃)
               h_t = lerp(h̃, h_{t-1}, k_h); c_t = lerp(c̃, c_{t-1}, k_c); h_in = h_t ⊙ h_mask
    backward:  da_t from dh_t, dc_t (the algebra of `LSTMLoop.backward`), then
               dh_{t-1} = v dy_{t-1} + k_h dh_t + (da_t W_hh) ⊙ h_mask   (GEMM, β = 1 onto the
               first two terms without an h_mask; with one, into a buffer the next pass adds)

The pass adds the hoisted input projection xp_t as it reads a_t: with β = 1 onto xp_t instead,
xp_t would first have to be copied (the caller's tensor must not be written). Per sequence the
pass is a few short loops over the row while it is in L1, each a plain map that LLVM vectorises
with `_fastmath`'s σ and tanh (libm's are scalar calls). The GEMMs read and write the (B, T, ·)
arrays in place through `_blas`; dW_hh stays one torch GEMM over all steps. Gates are in the
kernel order (o, i, f, g) and the arguments are `LSTMLoop`'s, so the two are interchangeable.

A step's pass over its B sequences is split over torch's OpenMP threads (`_teams`, as in
`lstm_ln_native`) where it is big enough to pay: training at (T, B, I, H) = (1000, 16, 64, 128)
went from 0.92x to 0.73x nn.LSTM's time with zoneout, 0.86x to 0.69x with recurrent dropout.

numba is optional: without it `available()` is False. The first call per dtype compiles (10 to
15 seconds on a loaded 2-core machine) and the machine code is cached next to this file.
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


def _forward_row(a, x, hp, cp, kh, kc, hm, v, tc, h, c, h_in, y):  # pragma: no cover - compiled
    """One sequence's step. a (4H,): W_hh h_in on entry, σ(o, i, f), tanh(g) on exit; x (4H,): the
    hoisted input projection; hp, cp: the previous state; kh, kc (H,): carries. Writes tanh(c̃)
    into tc, the new state into h and c, h ⊙ hm into h_in and v h into y (when those are not
    empty). Each loop is a plain map over contiguous rows, which LLVM vectorises."""
    H, one = h.shape[0], h.dtype.type(1)
    for j in range(3 * H):
        a[j] = sigmoid(a[j] + x[j])
    for j in range(H):              # not range(3 H, 4 H): numba's loop from a nonzero start stayed scalar (6x slower)
        a[3 * H + j] = tanh(a[3 * H + j] + x[3 * H + j])
    for j in range(H):
        c_new = a[2 * H + j] * cp[j] + a[H + j] * a[3 * H + j]               # c̃ = f c + i g
        tc[j] = tanh(c_new)
        h_new = a[j] * tc[j]                                                  # h̃ = o tanh(c̃)
        h[j] = lerp(h_new, hp[j], kh[j], one)                                # zoneout / padding
        c[j] = lerp(c_new, cp[j], kc[j], one)
    for j in range(h_in.shape[0]):
        h_in[j] = h[j] * hm[j]
    for j in range(y.shape[0]):
        y[j] = v * h[j]


# The arrays of a step's row pass, as slots of its `_teams` context (forward; backward below).
ACTS, XP, H0, C0, HS, CS, KH, KH_TABLE, KC, KC_TABLE, H_MASK, VALID, TANH_C, H_IN, Y, ROWS = range(16)
FORWARD_CONTEXT = HEADER + SLOT * 16


def _forward_rows(ctx, lo, hi, me, dt):  # pragma: no cover - compiled
    """Rows lo..hi-1 of forward's step ctx[0], on team thread `me` (its carry rows)."""
    t = ctx[0]
    acts, xp, hs, cs, tanh_c, y = get(ctx, ACTS, dt), get(ctx, XP, dt), get(ctx, HS, dt), get(ctx, CS, dt), \
        get(ctx, TANH_C, dt), get(ctx, Y, dt)
    h0, c0, h_mask, valid, h_in = get(ctx, H0, dt)[0], get(ctx, C0, dt)[0], get(ctx, H_MASK, dt)[0], \
        get(ctx, VALID, dt)[0], get(ctx, H_IN, dt)[0]
    keep_h = get(ctx, KH, np.uint8), get(ctx, KH_TABLE, dt)[0, 0]
    keep_c = get(ctx, KC, np.uint8), get(ctx, KC_TABLE, dt)[0, 0]
    rows = get(ctx, ROWS, dt)[me]                                        # (3, H): two carry rows, one empty
    none, one = rows[2, :0], dt.type(1)
    k, all_c = min(t, acts.shape[1] - 1), cs.shape[1] == xp.shape[1]
    c_new, c_old = (t, t - 1) if all_c else (t % 2, (t + 1) % 2)
    masked, has_y = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(lo, hi):
        _forward_row(acts[b, k], xp[b, t], h0[b] if t == 0 else hs[b, t - 1], c0[b] if t == 0 else cs[b, c_old],
                     carry_row(keep_h, b, t, rows[0]), carry_row(keep_c, b, t, rows[1]),
                     h_mask[b] if masked else none, valid[b, t] if has_y else one, tanh_c[b, k], hs[b, t],
                     cs[b, c_new], h_in[b] if masked else none, y[b, t] if has_y else none)


def _forward_team32(data):  # pragma: no cover - compiled
    ctx = header(data, FORWARD_CONTEXT)
    lo, hi, me = span(ctx)
    _forward_rows(ctx, lo, hi, me, dtype_of(data, np.float32))


def _forward_team64(data):  # pragma: no cover - compiled
    ctx = header(data, FORWARD_CONTEXT)
    lo, hi, me = span(ctx)
    _forward_rows(ctx, lo, hi, me, dtype_of(data, np.float64))


def _forward(function, compute, wp, parallel, team, ctx, rows,
             xp, h0, c0, w, h_mask, keep_h, keep_c, valid, acts, tanh_c, hs, cs, y, h_in):  # pragma: no cover
    """xp: (B, T, 4H); h0, c0: (B, H); w: W_hh (4H, H); h_mask (B, H) or (0, 0); carries (see
    `_carry_row`); valid (B, T) or (0, 0). Writes acts, tanh_c, hs, cs: (B, T, ·), y when valid
    is given, and uses h_in (B, H) (or (0, 0) without h_mask) for the masked GEMM input. When
    backward will not run, acts and tanh_c are (B, 1, ·), rewritten every step, and cs (B, 2, H)
    holds c_{t-1} and c_t in turn: only hs (the output) is kept for every step. team: (threads,
    cfunc address) for the row passes (`_teams`; threads 1: this thread does them); ctx:
    `_teams.context`; rows (threads, 3, H): each thread's carry rows. (The caller allocates every
    array the context points to: numba frees its own after their last use in the source.)"""
    B, T, G = xp.shape
    threads, dt = team[0], xp.dtype
    slots = scratch(xp.dtype)
    put(ctx, ACTS, acts)
    put(ctx, XP, xp)
    put(ctx, HS, hs)
    put(ctx, CS, cs)
    put(ctx, TANH_C, tanh_c)
    put(ctx, Y, y)
    put(ctx, ROWS, rows)
    put(ctx, KH, keep_h[0])
    put(ctx, KC, keep_c[0])
    put_1d(ctx, KH_TABLE, keep_h[1])
    put_1d(ctx, KC_TABLE, keep_c[1])
    put_2d(ctx, H0, h0)
    put_2d(ctx, C0, c0)
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


def _backward_row(da, a, tc, cp, kh, kc, hm, rec, dh, dc, gy, v):  # pragma: no cover - compiled
    """One sequence's step of backward, as `LSTMLoop.backward`. On entry dh (H,) is dL/dh_t but
    for the recurrent term rec ⊙ hm of step t+1 (added here; empty hm: the GEMM added it already)
    and dc is dL/dc_t. Writes da (4H,) and leaves dc = dL/dc_{t-1} and, in dh, the part of
    dL/dh_{t-1} that does not pass through W_hh: k_h dh_t + v dy_{t-1} (gy empty at t = 0)."""
    H = dh.shape[0]
    one = da.dtype.type(1)
    for j in range(hm.shape[0]):
        dh[j] += hm[j] * rec[j]
    for j in range(H):
        o, i, f, g, t = a[j], a[H + j], a[2 * H + j], a[3 * H + j], tc[j]
        d_new = dh[j] * (one - kh[j])                                         # dL/dh̃
        da[j] = d_new * (o - o * o) * t                                       # σ'(o) tanh(c̃)
        dc_new = dc[j] * (one - kc[j]) + d_new * o * (one - t * t)            # dL/dc̃
        da[H + j] = dc_new * (i - i * i) * g
        da[2 * H + j] = dc_new * (f - f * f) * cp[j]
        da[3 * H + j] = dc_new * i * (one - g * g)
        dc[j] = dc_new * f + kc[j] * dc[j]
        dh[j] = kh[j] * dh[j]
    for j in range(gy.shape[0]):
        dh[j] += v * gy[j]


GRAD_A_, ACTS_, TANH_C_, C0_, CS_, KH_, KH_TABLE_, KC_, KC_TABLE_, H_MASK_, REC_, DH_, DC_, GRAD_Y_, VALID_, \
    ROWS_ = range(16)
BACKWARD_CONTEXT = HEADER + SLOT * 16


def _backward_rows(ctx, lo, hi, me, dt):  # pragma: no cover - compiled
    """Rows lo..hi-1 of backward's step ctx[0], on team thread `me`."""
    t = ctx[0]
    grad_a, acts, tanh_c, cs, grad_y = get(ctx, GRAD_A_, dt), get(ctx, ACTS_, dt), get(ctx, TANH_C_, dt), \
        get(ctx, CS_, dt), get(ctx, GRAD_Y_, dt)
    c0, h_mask, rec, dh, dc, valid = get(ctx, C0_, dt)[0], get(ctx, H_MASK_, dt)[0], get(ctx, REC_, dt)[0], \
        get(ctx, DH_, dt)[0], get(ctx, DC_, dt)[0], get(ctx, VALID_, dt)[0]
    keep_h = get(ctx, KH_, np.uint8), get(ctx, KH_TABLE_, dt)[0, 0]
    keep_c = get(ctx, KC_, np.uint8), get(ctx, KC_TABLE_, dt)[0, 0]
    rows = get(ctx, ROWS_, dt)[me]
    none, one, T = rows[2, :0], dt.type(1), acts.shape[1]
    masked, has_v = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(lo, hi):
        _backward_row(grad_a[b, t], acts[b, t], tanh_c[b, t], c0[b] if t == 0 else cs[b, t - 1],
                      carry_row(keep_h, b, t, rows[0]), carry_row(keep_c, b, t, rows[1]),
                      h_mask[b] if masked and t < T - 1 else none, rec[b] if masked else none, dh[b], dc[b],
                      grad_y[b, t - 1] if t > 0 else none, valid[b, t - 1] if has_v and t > 0 else one)


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


def _backward(function, compute, wp, parallel, team, ctx, rows,
              w, c0, h_mask, keep_h, keep_c, valid, acts, tanh_c, cs, grad_y, grad_h, grad_c,
              grad_a, dh, dc, rec):  # pragma: no cover - compiled
    """The forward's saved acts, tanh_c, cs and the output gradients -> grad_a (B, T, 4H) and
    dL/dh_0, dL/dc_0 in dh, dc (B, H). rec (B, H) holds da_t W_hh when there is an h_mask.
    team, ctx, rows: as forward's."""
    B, T, G = acts.shape
    H, threads, dt = G // 4, team[0], acts.dtype
    slots = scratch(acts.dtype)
    put(ctx, GRAD_A_, grad_a)
    put(ctx, ACTS_, acts)
    put(ctx, TANH_C_, tanh_c)
    put(ctx, CS_, cs)
    put(ctx, GRAD_Y_, grad_y)
    put(ctx, ROWS_, rows)
    put(ctx, KH_, keep_h[0])
    put(ctx, KC_, keep_c[0])
    put_1d(ctx, KH_TABLE_, keep_h[1])
    put_1d(ctx, KC_TABLE_, keep_c[1])
    put_2d(ctx, C0_, c0)
    put_2d(ctx, H_MASK_, h_mask)
    put_2d(ctx, REC_, rec)
    put_2d(ctx, DH_, dh)
    put_2d(ctx, DC_, dc)
    put_2d(ctx, VALID_, valid)
    ctx[3] = B
    one = acts.dtype.type(1)
    masked, has_v = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(B):
        dh[b] = grad_h[b] + (valid[b, T - 1] if has_v else one) * grad_y[b, T - 1]
    dc[:] = grad_c
    for t in range(T - 1, -1, -1):
        ctx[0] = t
        if threads > 1:
            run(parallel, team[1], ctx, threads)
        else:
            _backward_rows(ctx, 0, B, 0, dt)
        if masked:
            gemm_w(function, compute, False, H, B, G, w, wp, grad_a[0, t], T * G, rec[0], H, 0.0, slots)
        else:
            gemm_w(function, compute, False, H, B, G, w, wp, grad_a[0, t], T * G, dh[0], H, 1.0, slots)
    if masked:
        dh += h_mask * rec


_forward_row, _backward_row, _forward, _backward = jit(_forward_row), jit(_backward_row), jit(_forward), jit(_backward)
_forward_rows, _backward_rows = jit(_forward_rows), jit(_backward_rows)


class NativeLSTMLoop(torch.autograd.Function):
    """`LSTMLoop` for the plain LSTM (gain_hh, gain_c, bias_c None), compiled: the same arguments
    and results. xp: (B, T, 4H) gate inputs in order (o, i, f, g); W_hh (4H, H); h_mask (B, H);
    keep_h, keep_c carries (None, a float or (B, T, n), n in {1, H}); valid (B, T, 1)."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, gain_hh: Tensor | None,
                gain_c: Tensor | None, bias_c: Tensor | None, h_mask: Tensor | None,
                keep_h: Carry, keep_c: Carry, valid: Tensor | None, eps: float):
        if gain_hh is not None or gain_c is not None or bias_c is not None:
            raise ValueError("NativeLSTMLoop runs the plain LSTM only; use LSTMLoop for the layer-norm cell")
        check_dtype("NativeLSTMLoop", "LSTMLoop", xp)
        B, T, G = xp.shape
        H, dt = G // 4, xp.dtype
        # without backward (inference) only hs is kept for every step: one step of the gates and
        # tanh c̃, two of c (the step's memory traffic and fresh pages, not the arithmetic)
        kept = T if any(ctx.needs_input_grad) else min(T, 1)
        acts, tanh_c, hs = empty((B, kept, G), dt), empty((B, kept, H), dt), empty((B, T, H), dt)
        cs = empty((B, T if kept == T else min(T, 2), H), dt)
        y = hs if valid is None else empty((B, T, H), dt)
        hm, kh, kc, v, h_in = options(h_mask, (keep_h, keep_c), valid, h0)   # carries packed: bytes, see `pack_carry`
        if xp.numel():                                # BLAS rejects zero leading dimensions
            threads = choose(B, G, FORWARD_TEAM[dt])
            _forward(*blas_args(w_hh, dt, True, B, T), parallel_function(), threads, context(16),
                     np.empty((threads[0], 3, H), NUMPY[dt]), array(xp, dt), array(h0, dt), array(c0, dt),
                     array(w_hh, dt), hm, kh, kc, v, acts.numpy(), tanh_c.numpy(), hs.numpy(), cs.numpy(),
                     y.numpy(), h_in)
        ctx.save_for_backward(h0, c0, w_hh, h_mask, valid, acts, tanh_c, hs, cs)
        ctx.keeps = (kh, kc)                          # what backward keeps of (B, T, H) zoneout draws
        if T == 0:
            return y, h0.clone(), c0.clone()
        return y, hs[:, -1].clone(), cs[:, (T - 1) % cs.size(1)].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, grad_h, grad_c):
        h0, c0, w_hh, h_mask, valid, acts, tanh_c, hs, cs = ctx.saved_tensors
        B, T, G = acts.shape
        dt = acts.dtype
        # row-major copies: a gradient may arrive column-major, and the loop reads rows
        dh, dc = (g.clone(memory_format=torch.contiguous_format) for g in (grad_h, grad_c))
        grad_a = empty((B, T, G), dt)
        if acts.numel():
            hm, kh, kc, v, rec = options(h_mask, ctx.keeps, valid, h0)
            threads = choose(B, G, BACKWARD_TEAM[dt])
            _backward(*blas_args(w_hh, dt, False, B, T), parallel_function(), threads, context(16),
                      np.empty((threads[0], 3, G // 4), NUMPY[dt]), array(w_hh, dt), array(c0, dt), hm, kh, kc, v,
                      acts.detach().numpy(), tanh_c.detach().numpy(), cs.detach().numpy(), array(grad_y, dt),
                      array(grad_h, dt), array(grad_c, dt), grad_a.numpy(), dh.numpy(), dc.numpy(), rec)
        grad_w = weight_grad(grad_a, h0, hs, w_hh, h_mask) if ctx.needs_input_grad[3] else None
        return (grad_a, dh, dc, grad_w) + (None,) * 8


def smoke(dtype: torch.dtype) -> None:
    """This loop forward and backward on a tiny input: what `backend.native` tries once per dtype."""
    xp, w = torch.randn(2, 3, 8, dtype=dtype, requires_grad=True), torch.randn(8, 2, dtype=dtype, requires_grad=True)
    h0, c0 = torch.zeros(2, 2, dtype=dtype), torch.zeros(2, 2, dtype=dtype)
    y, h, c = NativeLSTMLoop.apply(xp, h0, c0, w, None, None, None, None, 0.5, None, None, 0.0)
    (y.sum() + h.sum() + c.sum()).backward()
    prepare(FORWARD_TEAM[dtype], BACKWARD_TEAM[dtype])      # the row passes' parallel regions, compiled now too
