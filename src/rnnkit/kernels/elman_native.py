"""The Elman RNN's BPTT loop (`elman.ElmanLoop`, tanh or ReLU) compiled with numba, as
`lstm_native` does for the LSTM: per step one BLAS GEMM against W_hh and one fused pass over the
step's rows, with nothing allocated inside the loop.

    forward:   a_t = f(xp_t + h_in W_hhᵀ)  (GEMM, β = 0, then the pass),  f in {tanh, ReLU}
               h_t = lerp(a_t, h_{t-1}, k),  h_in = h_t ⊙ h_mask
    backward:  da_t = (1 - k) f'(a_t) dh_t,  f' = 1 - a² or [a > 0] from the saved output;
               dh_{t-1} = k dh_t + v dy_{t-1} + (da_t W_hh) ⊙ h_mask   (GEMM, see `lstm_native`)

Without a carry h_t is a_t, and the loop writes a_t straight into the states, as `ElmanLoop` does.
A step's pass over its B sequences is split over torch's OpenMP threads where it is big enough
(`_teams`, as in `lstm_native`). The arguments and results are `ElmanLoop`'s. numba is optional:
without it `available()` is False. The first call per dtype compiles and the machine code is
cached next to this file.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._blas import gemm_w, scratch
from ._common import Carry
from ._fastmath import tanh
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
def _forward_row(a, x, hp, k, carried, relu, hm, v, h, h_in, y):  # pragma: no cover - compiled
    """One sequence's step. a (H): W_hh h_in on entry, f(a + x) on exit (a may be h itself when
    nothing is carried); x: the hoisted input projection with both biases; hp: h_{t-1}; k: the
    carry row. Writes the new state h, h ⊙ hm into h_in and v h into y (when not empty)."""
    H, zero, one = h.shape[0], h.dtype.type(0), h.dtype.type(1)
    if relu:    # the branch outside the loops, so that each stays a plain map that LLVM vectorises
        for j in range(H):
            s = a[j] + x[j]
            a[j] = zero if s < zero else s                                    # NaN passes, as in torch
    else:
        for j in range(H):
            a[j] = tanh(a[j] + x[j])
    if carried:
        for j in range(H):
            h[j] = lerp(a[j], hp[j], k[j], one)                               # zoneout / padding
    for j in range(h_in.shape[0]):
        h_in[j] = h[j] * hm[j]
    for j in range(y.shape[0]):
        y[j] = v * h[j]


# The arrays of a step's row pass, as slots of its `_teams` context (forward; backward below);
# header slots 4 and 5: carried, relu.
ACTS, XP, H0, HS, KEEP, KEEP_TABLE, H_MASK, VALID, H_IN, Y, ROWS = range(11)
FORWARD_CONTEXT = HEADER + SLOT * 11


@jit
def _forward_rows(ctx, lo, hi, me, dt):  # pragma: no cover - compiled
    """Rows lo..hi-1 of forward's step ctx[0], on team thread `me` (its carry row)."""
    t, carried, relu = ctx[0], ctx[4] > 0, ctx[5] > 0
    acts, xp, hs, y = get(ctx, ACTS, dt), get(ctx, XP, dt), get(ctx, HS, dt), get(ctx, Y, dt)
    h0, h_mask, valid, h_in = get(ctx, H0, dt)[0], get(ctx, H_MASK, dt)[0], get(ctx, VALID, dt)[0], \
        get(ctx, H_IN, dt)[0]
    keep = get(ctx, KEEP, np.uint8), get(ctx, KEEP_TABLE, dt)[0, 0]
    row = get(ctx, ROWS, dt)[0, me]
    none, one = row[:0], dt.type(1)
    masked, has_y = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(lo, hi):
        _forward_row(acts[b, t], xp[b, t], h0[b] if t == 0 else hs[b, t - 1], carry_row(keep, b, t, row),
                     carried, relu, h_mask[b] if masked else none, valid[b, t] if has_y else one, hs[b, t],
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
             xp, h0, w, h_mask, keep, carried, relu, valid, acts, hs, y, h_in):  # pragma: no cover
    """xp: (B, T, H); h0: (B, H); w: W_hh (H, H); h_mask (B, H) or (0, 0); keep: the carry (see
    `carry_row`), carried: whether there is one; valid (B, T) or (0, 0). Writes acts = f(·) and
    hs (B, T, H) (the same array when nothing is carried), y when valid is given, and uses h_in
    (B, H) (or (0, 0) without h_mask) as the GEMM input. team, ctx: the row passes' threads and
    context (`_teams`, see `lstm_native`); rows (1, threads, H): each thread's carry row."""
    B, T, H = xp.shape
    threads, dt = team[0], xp.dtype
    slots = scratch(xp.dtype)
    put(ctx, ACTS, acts)
    put(ctx, XP, xp)
    put(ctx, HS, hs)
    put(ctx, Y, y)
    put(ctx, ROWS, rows)
    put(ctx, KEEP, keep[0])
    put_1d(ctx, KEEP_TABLE, keep[1])
    put_2d(ctx, H0, h0)
    put_2d(ctx, H_MASK, h_mask)
    put_2d(ctx, VALID, valid)
    put_2d(ctx, H_IN, h_in)
    ctx[3], ctx[4], ctx[5] = B, carried, relu
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
def _backward_row(ga, a, k, relu, hm, rec, dh, gy, v):  # pragma: no cover - compiled
    """One sequence's step of backward. On entry dh (H) is dL/dh_t but for the recurrent term
    rec ⊙ hm of step t+1 (added here; empty hm: the GEMM added it already). Writes ga = dL/d(xp_t
    + W_hh h_in) and leaves in dh the part of dL/dh_{t-1} that does not pass through W_hh:
    k dh_t + v dy_{t-1} (gy empty at t = 0)."""
    H = dh.shape[0]
    zero, one = dh.dtype.type(0), dh.dtype.type(1)
    for j in range(hm.shape[0]):
        dh[j] += hm[j] * rec[j]
    if relu:
        for j in range(H):
            d = dh[j] * (one - k[j])
            ga[j] = d if a[j] > zero else zero
            dh[j] = k[j] * dh[j]
    else:
        for j in range(H):
            ga[j] = dh[j] * (one - k[j]) * (one - a[j] * a[j])
            dh[j] = k[j] * dh[j]
    for j in range(gy.shape[0]):
        dh[j] += v * gy[j]


GRAD_A_, ACTS_, KEEP_, KEEP_TABLE_, H_MASK_, REC_, DH_, GRAD_Y_, VALID_, ROWS_ = range(10)
BACKWARD_CONTEXT = HEADER + SLOT * 10


@jit
def _backward_rows(ctx, lo, hi, me, dt):  # pragma: no cover - compiled
    """Rows lo..hi-1 of backward's step ctx[0] (ctx[5]: relu), on team thread `me`."""
    t, relu = ctx[0], ctx[5] > 0
    grad_a, acts, grad_y = get(ctx, GRAD_A_, dt), get(ctx, ACTS_, dt), get(ctx, GRAD_Y_, dt)
    h_mask, rec, dh, valid = get(ctx, H_MASK_, dt)[0], get(ctx, REC_, dt)[0], get(ctx, DH_, dt)[0], \
        get(ctx, VALID_, dt)[0]
    keep = get(ctx, KEEP_, np.uint8), get(ctx, KEEP_TABLE_, dt)[0, 0]
    row = get(ctx, ROWS_, dt)[0, me]
    none, one, T = row[:0], dt.type(1), acts.shape[1]
    masked, has_v = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(lo, hi):
        _backward_row(grad_a[b, t], acts[b, t], carry_row(keep, b, t, row), relu,
                      h_mask[b] if masked and t < T - 1 else none, rec[b] if masked else none, dh[b],
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


@jit
def _backward(function, compute, wp, parallel, team, ctx, rows,
              w, h_mask, keep, relu, valid, acts, grad_y, grad_h, grad_a, dh, rec):  # pragma: no cover
    """The forward's saved acts and the output gradients -> grad_a (B, T, H) and dL/dh_0 in dh
    (B, H). rec (B, H) holds da_t W_hh when there is an h_mask. team, ctx, rows: as forward's."""
    B, T, H = acts.shape
    threads, dt = team[0], acts.dtype
    slots = scratch(acts.dtype)
    put(ctx, GRAD_A_, grad_a)
    put(ctx, ACTS_, acts)
    put(ctx, GRAD_Y_, grad_y)
    put(ctx, ROWS_, rows)
    put(ctx, KEEP_, keep[0])
    put_1d(ctx, KEEP_TABLE_, keep[1])
    put_2d(ctx, H_MASK_, h_mask)
    put_2d(ctx, REC_, rec)
    put_2d(ctx, DH_, dh)
    put_2d(ctx, VALID_, valid)
    ctx[3], ctx[5] = B, relu
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
            gemm_w(function, compute, False, H, B, H, w, wp, grad_a[0, t], T * H, rec[0], H, 0.0, slots)
        else:
            gemm_w(function, compute, False, H, B, H, w, wp, grad_a[0, t], T * H, dh[0], H, 1.0, slots)
    if masked:
        dh += h_mask * rec


class NativeElmanLoop(torch.autograd.Function):
    """`ElmanLoop` compiled: the same arguments and results. xp: (B, T, H) with both biases
    added; W_hh (H, H); h_mask (B, H); keep_h: a carry (None, a float or (B, T, n), n in {1, H});
    valid (B, T, 1); relu picks ReLU over tanh."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, w_hh: Tensor, h_mask: Tensor | None, keep_h: Carry,
                valid: Tensor | None, relu: bool):
        check_dtype("NativeElmanLoop", "ElmanLoop", xp)
        B, T, H = xp.shape
        dt = xp.dtype
        hs = empty((B, T, H), dt)
        carried = keep_h is not None
        acts = empty((B, T, H), dt) if carried else hs                       # f(·), before the carry
        y = hs if valid is None else empty((B, T, H), dt)
        hm, kh, v, h_in = options(h_mask, (keep_h,), valid, h0)   # the carry packed: bytes, see `pack_carry`
        if xp.numel():                                # BLAS rejects zero leading dimensions
            threads = choose(B, H, FORWARD_TEAM[dt])
            _forward(*blas_args(w_hh, dt, True, B, T), parallel_function(), threads, context(11),
                     np.empty((1, threads[0], H), NUMPY[dt]), array(xp, dt), array(h0, dt), array(w_hh, dt), hm, kh,
                     carried, bool(relu), v, acts.numpy(), hs.numpy(), y.numpy(), h_in)
        ctx.save_for_backward(h0, w_hh, h_mask, valid, hs, acts)
        ctx.keep, ctx.relu = kh, bool(relu)           # kh: what backward keeps of (B, T, H) zoneout draws
        return y, (hs[:, -1] if T else h0).clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, grad_h):
        h0, w_hh, h_mask, valid, hs, acts = ctx.saved_tensors
        B, T, H = hs.shape
        dt = hs.dtype
        grad_a = empty((B, T, H), dt)
        dh = grad_h.clone(memory_format=torch.contiguous_format)    # the loop needs C order (its GEMMs)
        if hs.numel():
            hm, kh, v, rec = options(h_mask, (ctx.keep,), valid, h0)
            threads = choose(B, H, BACKWARD_TEAM[dt])
            _backward(*blas_args(w_hh, dt, False, B, T), parallel_function(), threads, context(10),
                      np.empty((1, threads[0], H), NUMPY[dt]), array(w_hh, dt), hm, kh, ctx.relu, v,
                      acts.detach().numpy(), array(grad_y, dt), array(grad_h, dt), grad_a.numpy(), dh.numpy(), rec)
        grad_w = weight_grad(grad_a, h0, hs, w_hh, h_mask) if ctx.needs_input_grad[2] else None
        return (grad_a, dh, grad_w) + (None,) * 4


def smoke(dtype: torch.dtype) -> None:
    """This loop forward and backward on a tiny input: what `backend.native` tries once per dtype."""
    xp, w = torch.randn(2, 3, 2, dtype=dtype, requires_grad=True), torch.randn(2, 2, dtype=dtype, requires_grad=True)
    for relu in (False, True):
        y, h = NativeElmanLoop.apply(xp, torch.zeros(2, 2, dtype=dtype), w, None, 0.5, None, relu)
        (y.sum() + h.sum()).backward()
    prepare(FORWARD_TEAM[dtype], BACKWARD_TEAM[dtype])      # the row passes' parallel regions, compiled now too
