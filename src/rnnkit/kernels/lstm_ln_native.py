"""The layer-normalised LSTM's BPTT loop compiled with numba, in the manner of `lstm_native`,
with LN_ih inside it too: `NativeLayerNormLSTMLoop` takes u = W_ih x (not yet normalised) and LN_ih's
gain and shift, and returns what `lstm.LSTMLoop` returns for LN_ih(u), with the gradients w.r.t. u
and all five LN parameters.

Per step `LSTMLoop` runs the plain cell's ten torch ops plus two layer norms forward and their
two backward kernels, each a dispatch and a pass over memory, after LN_ih over all steps. Here a
step is one BLAS GEMM against W_hh and one fused pass per sequence (`lstm_ln_rows`): the three
layer norms, the gates, zoneout and padding. Backward recomputes the gates and the cell's layer
norm from what forward kept (x̂_i, x̂_r, h, c and four numbers a row), and sums the LN parameters'
gradients as it goes, in float64 (so that float32's are not worse than torch's pairwise sums).

The arrays 4H wide (u, x̂_i, x̂_r and their gradients) are time-major, (T, B, 4H):
layernorm_lstm_loop's W_ih x is computed that way, so u needs no copy and du goes back in the
layout F.linear's backward reads, and each step's GEMM writes one contiguous block. The H-wide
state arrays are (B, T, H), as y is. The carry rows and the option arrays are `_native_common`'s.

A step's pass over its B sequences is split over torch's OpenMP threads (`_teams`: the threads the
GEMM just used), each thread a block of sequences, where the pass is big enough to pay for it; the
row functions read their arrays from the step's context, so one compiled pass serves a team and one
thread alike, with the same results bit for bit. The LN parameters' gradients are summed per
sequence and added in sequence order after the loop. Training at (T, B, I, H) = (100, 32, 128, 256)
went from 1.19x to 1.00x nn.LSTM's time with it, at (1000, 16, 64, 128) from 1.40x to 1.10x
(docs/benchmarks.md). The first call per dtype compiles (about 30 seconds on a 2-core machine, the
team's region included); the machine code is cached.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._blas import gemm_nt, gemm_w, scratch
from ._common import Carry
from ._native_common import NUMPY, array, blas_args, carry_row, check_dtype, jit, options
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
from .lstm_ln_rows import backward_row, forward_row
from .workspace import empty

__all__ = ["NativeLayerNormLSTMLoop", "available"]

CHUNK_ROWS = 256      # backward's dW_hh GEMM takes at least this many rows (steps x sequences) at once


# The arrays of a step's row pass, as slots of its `_teams` context (forward; backward below).
U, XR, XI, GI, BI, GH, GC, BC, H0, C0, KH, KH_TABLE, KC, KC_TABLE, H_MASK, VALID, H_IN, Y, HS, CS, STATS, \
    ROWS, A, EPS = range(24)
FORWARD_CONTEXT = HEADER + SLOT * 24


@jit
def _forward_rows(ctx, lo, hi, me, dt):  # pragma: no cover - compiled
    """Rows lo..hi-1 of forward's step ctx[0], on team thread `me` (its scratch rows)."""
    t = ctx[0]
    u, xr, xi, hs, cs, stats = get(ctx, U, dt), get(ctx, XR, dt), get(ctx, XI, dt), get(ctx, HS, dt), \
        get(ctx, CS, dt), get(ctx, STATS, dt)
    gi, bi, gh, gc, bc = get(ctx, GI, dt)[0, 0], get(ctx, BI, dt)[0, 0], get(ctx, GH, dt)[0, 0], \
        get(ctx, GC, dt)[0, 0], get(ctx, BC, dt)[0, 0]
    h0, c0, h_mask, valid, h_in = get(ctx, H0, dt)[0], get(ctx, C0, dt)[0], get(ctx, H_MASK, dt)[0], \
        get(ctx, VALID, dt)[0], get(ctx, H_IN, dt)[0]
    keep_h = get(ctx, KH, np.uint8), get(ctx, KH_TABLE, dt)[0, 0]
    keep_c = get(ctx, KC, np.uint8), get(ctx, KC_TABLE, dt)[0, 0]
    rows, a, y, eps = get(ctx, ROWS, dt)[me], get(ctx, A, dt)[0, me], get(ctx, Y, dt), get(ctx, EPS, dt)[0, 0, 0]
    k, H = min(t, xi.shape[0] - 1), hs.shape[2]                         # k: 0 when only one step is kept
    masked, has_y = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(lo, hi):
        h = hs[b, t]
        forward_row(u[t, b], xr[k, b], xi[k, b], gi, bi, gh, gc, bc, eps, h0[b] if t == 0 else hs[b, t - 1],
                    c0[b] if t == 0 else cs[b, t - 1], carry_row(keep_h, b, t, rows[0]),
                    carry_row(keep_c, b, t, rows[1]), a, rows[2], rows[3], h, cs[b, t], stats[b, t])
        for j in range(H if masked else 0):
            h_in[b, j] = h[j] * h_mask[b, j]
        for j in range(H if has_y else 0):
            y[b, t, j] = valid[b, t] * h[j]


def _forward_team32(data):  # pragma: no cover - compiled
    ctx = header(data, FORWARD_CONTEXT)
    lo, hi, me = span(ctx)
    _forward_rows(ctx, lo, hi, me, dtype_of(data, np.float32))


def _forward_team64(data):  # pragma: no cover - compiled
    ctx = header(data, FORWARD_CONTEXT)
    lo, hi, me = span(ctx)
    _forward_rows(ctx, lo, hi, me, dtype_of(data, np.float64))


@jit
def _forward(function, compute, wp, parallel, team, ctx, rows, a, eps,
             u, h0, c0, w, gi, bi, gh, gc, bc, h_mask, keep_h, keep_c, valid,
             xi, xr, stats, hs, cs, y, h_in):  # pragma: no cover - compiled
    """u: (T, B, 4H); h0, c0: (B, H); w: W_hh (4H, H); options as `lstm_native._forward`. Writes
    xi (x̂_i), xr (x̂_r): (T, B, 4H), or (1, B, 4H) rewritten each step when backward will not run;
    stats (B, T, 4); hs, cs: (B, T, H); y when valid is given. team: (threads, cfunc address) for
    the row passes (`_teams`; threads 1: this thread does them); ctx: `_teams.context`; rows
    (threads, 4, H), a (1, threads, 4H): each thread's scratch; eps (1, 1, 1): the LNs' epsilon.
    (The caller allocates every array the context points to: numba frees its own after their
    last use in the source, which the context's addresses do not count as.)"""
    T, B, G = u.shape
    H, threads, dt = G // 4, team[0], u.dtype
    slots = scratch(u.dtype)
    put(ctx, U, u)
    put(ctx, XR, xr)
    put(ctx, XI, xi)
    put(ctx, HS, hs)
    put(ctx, CS, cs)
    put(ctx, STATS, stats)
    put(ctx, ROWS, rows)
    put(ctx, Y, y)
    put(ctx, A, a)
    put(ctx, EPS, eps)
    put(ctx, KH, keep_h[0])
    put(ctx, KC, keep_c[0])
    put_1d(ctx, GI, gi)
    put_1d(ctx, BI, bi)
    put_1d(ctx, GH, gh)
    put_1d(ctx, GC, gc)
    put_1d(ctx, BC, bc)
    put_1d(ctx, KH_TABLE, keep_h[1])
    put_1d(ctx, KC_TABLE, keep_c[1])
    put_2d(ctx, H0, h0)
    put_2d(ctx, C0, c0)
    put_2d(ctx, H_MASK, h_mask)
    put_2d(ctx, VALID, valid)
    put_2d(ctx, H_IN, h_in)
    ctx[3] = B
    last = xi.shape[0] - 1                                              # 0 when only one step is kept
    masked = h_mask.shape[0] > 0
    if masked:
        h_in[:] = h0 * h_mask
    for t in range(T):
        k = min(t, last)
        if masked:
            gemm_w(function, compute, True, G, B, H, w, wp, h_in[0], H, xr[k, 0], G, 0.0, slots)
        elif t == 0:
            gemm_w(function, compute, True, G, B, H, w, wp, h0[0], H, xr[k, 0], G, 0.0, slots)
        else:
            gemm_w(function, compute, True, G, B, H, w, wp, hs[0, t - 1], T * H, xr[k, 0], G, 0.0, slots)
        ctx[0] = t
        if threads > 1:
            run(parallel, team[1], ctx, threads)
        else:
            _forward_rows(ctx, 0, B, 0, dt)


XI_, XR_, STATS_, C0_, CS_, HS_, H0_, KH_, KH_TABLE_, KC_, KC_TABLE_, GI_, BI_, GH_, GC_, BC_, H_MASK_, REC_, DH_, \
    DC_, GRAD_U_, GR_, ROWS_, ACC_, VALID_, GRAD_Y_, H_IN_ = range(27)
BACKWARD_CONTEXT = HEADER + SLOT * 27


@jit
def _backward_rows(ctx, lo, hi, me, dt):  # pragma: no cover - compiled
    """Rows lo..hi-1 of backward's step ctx[0] (buffer row ctx[4]; ctx[5]: dW_hh wanted), on team
    thread `me`."""
    t, s, need_w = ctx[0], ctx[4], ctx[5] > 0
    xi, xr, stats, cs, hs = get(ctx, XI_, dt), get(ctx, XR_, dt), get(ctx, STATS_, dt), get(ctx, CS_, dt), \
        get(ctx, HS_, dt)
    gi, bi, gh, gc, bc = get(ctx, GI_, dt)[0, 0], get(ctx, BI_, dt)[0, 0], get(ctx, GH_, dt)[0, 0], \
        get(ctx, GC_, dt)[0, 0], get(ctx, BC_, dt)[0, 0]
    c0, h0, h_mask, rec = get(ctx, C0_, dt)[0], get(ctx, H0_, dt)[0], get(ctx, H_MASK_, dt)[0], get(ctx, REC_, dt)[0]
    dh, dc, valid = get(ctx, DH_, dt)[0], get(ctx, DC_, dt)[0], get(ctx, VALID_, dt)[0]
    keep_h = get(ctx, KH_, np.uint8), get(ctx, KH_TABLE_, dt)[0, 0]
    keep_c = get(ctx, KC_, np.uint8), get(ctx, KC_TABLE_, dt)[0, 0]
    grad_u, gr, grad_y, h_in = get(ctx, GRAD_U_, dt), get(ctx, GR_, dt), get(ctx, GRAD_Y_, dt), get(ctx, H_IN_, dt)
    rows, acc = get(ctx, ROWS_, dt)[me], get(ctx, ACC_, np.float64)[0]
    T, H = xi.shape[0], dh.shape[1]
    none = rows[3, :0]
    one = dt.type(1)
    masked, has_v = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(lo, hi):
        hp = h0[b] if t == 0 else hs[b, t - 1]
        backward_row(xi[t, b], xr[t, b], stats[b, t], c0[b] if t == 0 else cs[b, t - 1],
                     carry_row(keep_h, b, t, rows[3, :H]), carry_row(keep_c, b, t, rows[4, :H]), gi, bi, gh, gc, bc,
                     h_mask[b] if masked and t < T - 1 else none, rec[b] if masked else none, dh[b], dc[b],
                     grad_u[t, b], gr[s, b], rows[:3], acc[b])
        for j in range(H if t > 0 else 0):
            dh[b, j] += (valid[b, t - 1] if has_v else one) * grad_y[b, t - 1, j]
        for j in range(H if need_w else 0):
            h_in[s, b, j] = hp[j] * h_mask[b, j] if masked else hp[j]


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
              w, h0, c0, gi, bi, gh, gc, bc, h_mask, keep_h, keep_c, valid, xi, xr, stats, hs, cs,
              grad_y, grad_h, grad_c, grad_u, dh, dc, dw, gr, h_in, rec, acc):  # pragma: no cover - compiled
    """The forward's saved arrays and the output gradients -> grad_u (T, B, 4H), dL/dh_0 and dL/dc_0
    in dh, dc (B, H), dL/dW_hh added to dw (4H, H; skipped when empty) and each sequence's LN
    parameter gradients in acc (B, 14H) (see `backward_row`). gr (C, B, 4H), h_in (C, B, H): dL/dr
    and W_hh's input for C steps, so that dW_hh is one GEMM per C steps (over C B rows) without a
    (T, B, 4H) array. team, ctx: as forward's; rows (threads, 5, 4H): each thread's scratch."""
    T, B, G = xi.shape
    H, C, threads, dt = G // 4, gr.shape[0], team[0], xi.dtype
    slots = scratch(xi.dtype)
    need_w = dw.shape[0] > 0
    put(ctx, XI_, xi)
    put(ctx, XR_, xr)
    put(ctx, STATS_, stats)
    put(ctx, CS_, cs)
    put(ctx, HS_, hs)
    put(ctx, GRAD_U_, grad_u)
    put(ctx, GR_, gr)
    put(ctx, GRAD_Y_, grad_y)
    put(ctx, ROWS_, rows)
    put(ctx, H_IN_, h_in)
    put(ctx, KH_, keep_h[0])
    put(ctx, KC_, keep_c[0])
    put_1d(ctx, GI_, gi)
    put_1d(ctx, BI_, bi)
    put_1d(ctx, GH_, gh)
    put_1d(ctx, GC_, gc)
    put_1d(ctx, BC_, bc)
    put_1d(ctx, KH_TABLE_, keep_h[1])
    put_1d(ctx, KC_TABLE_, keep_c[1])
    put_2d(ctx, C0_, c0)
    put_2d(ctx, H0_, h0)
    put_2d(ctx, H_MASK_, h_mask)
    put_2d(ctx, REC_, rec)
    put_2d(ctx, DH_, dh)
    put_2d(ctx, DC_, dc)
    put_2d(ctx, VALID_, valid)
    put_2d(ctx, ACC_, acc)
    ctx[3], ctx[5] = B, need_w
    one = xi.dtype.type(1)
    masked, has_v = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(B):
        dh[b] = grad_h[b] + (valid[b, T - 1] if has_v else one) * grad_y[b, T - 1]
    dc[:] = grad_c
    for t in range(T - 1, -1, -1):
        s = (T - 1 - t) % C
        ctx[0], ctx[4] = t, s
        if threads > 1:
            run(parallel, team[1], ctx, threads)
        else:
            _backward_rows(ctx, 0, B, 0, dt)
        if masked:
            gemm_w(function, compute, False, H, B, G, w, wp, gr[s, 0], G, rec[0], H, 0.0, slots)
        else:
            gemm_w(function, compute, False, H, B, G, w, wp, gr[s, 0], G, dh[0], H, 1.0, slots)
        if need_w and (s == C - 1 or t == 0):     # dW_hh += Σ dr_tᵀ h_in_t over the buffered steps
            gemm_nt(function, H, G, (s + 1) * B, h_in[0, 0], H, gr[0, 0], G, dw, H, 1.0, slots)
    if masked:
        dh += h_mask * rec


class NativeLayerNormLSTMLoop(torch.autograd.Function):
    """(u, LN_ih gain and shift, h0, c0, W_hh, LN_hh gain, LN_c gain and shift, h_mask, keep_h, keep_c,
    valid, eps) -> (y, h_T, c_T), `LSTMLoop`'s results for xp = LN_ih(u). u: (B, T, 4H) = W_ih x in
    gate order (o, i, f, g), best a view of a time-major (T, B, 4H) tensor; W_hh (4H, H); gains and
    shifts (4H,) for LN_ih and LN_hh (which has no shift: the input's is the gates' bias), (H,) for LN_c;
    h_mask (B, H); keep_h, keep_c carries (None, a float or (B, T, n), n in {1, H}); valid (B, T, 1);
    eps all three LNs'."""

    @staticmethod
    def forward(ctx, u: Tensor, gain_ih: Tensor, bias_ih: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor,
                gain_hh: Tensor, gain_c: Tensor, bias_c: Tensor, h_mask: Tensor | None,
                keep_h: Carry, keep_c: Carry, valid: Tensor | None, eps: float):
        if any(p is None for p in (gain_ih, bias_ih, gain_hh, gain_c, bias_c)):
            raise ValueError("NativeLayerNormLSTMLoop needs the gains and shifts of all three layer norms "
                             "(the layer-norm cell's); the plain LSTM runs in NativeLSTMLoop")
        check_dtype("NativeLayerNormLSTMLoop", "LSTMLoop", u)
        B, T, G = u.shape
        H, dt = G // 4, u.dtype
        # x̂_i, x̂_r: kept for every step only if backward will run (inference rewrites one step's)
        kept = T if any(ctx.needs_input_grad) else min(T, 1)
        xi, xr = empty((kept, B, G), dt), empty((kept, B, G), dt)
        hs, cs = empty((B, T, H), dt), empty((B, T, H), dt)
        stats = empty((B, T, 4), dt)                                          # 1/σ_u, 1/σ_r, μ_c, 1/σ_c
        y = hs if valid is None else empty((B, T, H), dt)
        hm, kh, kc, v, h_in = options(h_mask, (keep_h, keep_c), valid, h0)   # carries packed: bytes, see `pack_carry`
        if u.numel():                                 # BLAS rejects zero leading dimensions
            threads, nd = choose(B, G, FORWARD_TEAM[dt]), NUMPY[dt]
            _forward(*blas_args(w_hh, dt, True, B, T), parallel_function(), threads, context(24),
                     np.empty((threads[0], 4, H), nd), np.empty((1, threads[0], G), nd), np.full((1, 1, 1), eps, nd),
                     array(u.transpose(0, 1), dt), array(h0, dt), array(c0, dt),
                     array(w_hh, dt), *(array(p, dt) for p in (gain_ih, bias_ih, gain_hh, gain_c, bias_c)),
                     hm, kh, kc, v, xi.numpy(), xr.numpy(), stats.numpy(), hs.numpy(), cs.numpy(),
                     y.numpy(), h_in)
        ctx.save_for_backward(h0, c0, w_hh, gain_ih, bias_ih, gain_hh, gain_c, bias_c, h_mask, valid,
                              xi, xr, stats, hs, cs)
        ctx.keeps = (kh, kc)                          # what backward keeps of (B, T, H) zoneout draws
        if T == 0:
            return y, h0.clone(), c0.clone()
        return y, hs[:, -1].clone(), cs[:, -1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, grad_h, grad_c):
        h0, c0, w_hh, *params, h_mask, valid, xi, xr, stats, hs, cs = ctx.saved_tensors
        T, B, G = xi.shape
        H, dt = G // 4, xi.dtype
        grad_u = empty((T, B, G), dt)                                        # dL/du
        own = lambda g: g.to(dt, memory_format=torch.contiguous_format, copy=True)  # noqa: E731
        dh, dc = own(grad_h), own(grad_c)                                     # written in place
        acc = np.zeros((B, 14 * H))                 # float64, per sequence: γ_ih | β_ih | γ_hh | γ_c | β_c
        need_w = ctx.needs_input_grad[5]
        grad_w = torch.zeros(G, H, dtype=dt) if need_w else None
        if xi.numel():
            hm, kh, kc, v, rec = options(h_mask, ctx.keeps, valid, h0)
            steps = max(1, min(T, -(-CHUNK_ROWS // B)))                       # dW_hh's GEMM: steps B >= 256 rows
            gr, h_in = np.empty((steps, B, G), NUMPY[dt]), np.empty((steps, B, H), NUMPY[dt])
            threads = choose(B, G, BACKWARD_TEAM[dt])
            _backward(*blas_args(w_hh, dt, False, B, T), parallel_function(), threads, context(27),
                      np.empty((threads[0], 5, G), NUMPY[dt]), array(w_hh, dt), array(h0, dt), array(c0, dt),
                      *(array(p, dt) for p in params), hm, kh, kc, v, xi.numpy(), xr.numpy(), stats.numpy(),
                      hs.detach().numpy(), cs.detach().numpy(), array(grad_y, dt), array(grad_h, dt),
                      array(grad_c, dt), grad_u.numpy(), dh.numpy(), dc.numpy(),
                      grad_w.numpy() if need_w else np.empty((0, 0), NUMPY[dt]), gr, h_in, rec, acc)
        sums = torch.from_numpy(acc.sum(0)).to(dt).split([G, G, G, H, H])    # added in sequence order
        return (grad_u.transpose(0, 1), sums[0], sums[1], dh, dc, grad_w, *sums[2:]) + (None,) * 5


def smoke(dtype: torch.dtype) -> None:
    """This loop forward and backward on a tiny input: what `backend.native` tries once per dtype."""
    u, w = torch.randn(2, 3, 8, dtype=dtype, requires_grad=True), torch.randn(8, 2, dtype=dtype, requires_grad=True)
    h0, c0, ln = torch.zeros(2, 2, dtype=dtype), torch.zeros(2, 2, dtype=dtype), torch.ones(28, dtype=dtype)
    y, h, c = NativeLayerNormLSTMLoop.apply(u, ln[:8], ln[8:16] - 1, h0, c0, w, ln[16:24], ln[24:26], ln[26:] - 1,
                                            None, 0.5, None, None, 1e-5)
    (y.sum() + h.sum() + c.sum()).backward()
    prepare(FORWARD_TEAM[dtype], BACKWARD_TEAM[dtype])      # the row passes' parallel regions, compiled now too

