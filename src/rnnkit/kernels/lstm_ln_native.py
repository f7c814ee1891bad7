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
The first call per dtype compiles (about 10 seconds on a 2-core machine); the machine code is cached.
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
from .lstm_ln_rows import backward_row, forward_row
from .workspace import empty

__all__ = ["NativeLayerNormLSTMLoop", "available"]

CHUNK_ROWS = 256      # backward's dW_hh GEMM takes at least this many rows (steps x sequences) at once


@jit
def _forward(function, compute, wp,
             u, h0, c0, w, gi, bi, gh, gc, bc, eps, h_mask, keep_h, keep_c, valid,
             xi, xr, stats, hs, cs, y, h_in):  # pragma: no cover - compiled
    """u: (T, B, 4H); h0, c0: (B, H); w: W_hh (4H, H); options as `lstm_native._forward`. Writes
    xi (x̂_i), xr (x̂_r): (T, B, 4H), or (1, B, 4H) rewritten each step when backward will not run;
    stats (B, T, 4); hs, cs: (B, T, H); y when valid is given."""
    T, B, G = u.shape
    last = xi.shape[0] - 1                                              # 0 when only one step is kept
    H = G // 4
    slots = scratch(u.dtype)
    rows, a = np.empty((4, H), u.dtype), np.empty(G, u.dtype)        # carry rows, x̂_c, tanh(ĉ); gates
    eps = u.dtype.type(eps)
    masked, has_y = h_mask.shape[0] > 0, valid.shape[0] > 0
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
        for b in range(B):
            h = hs[b, t]
            forward_row(u[t, b], xr[k, b], xi[k, b], gi, bi, gh, gc, bc, eps, h0[b] if t == 0 else hs[b, t - 1],
                        c0[b] if t == 0 else cs[b, t - 1], carry_row(keep_h, b, t, rows[0]),
                        carry_row(keep_c, b, t, rows[1]), a, rows[2], rows[3], h, cs[b, t], stats[b, t])
            for j in range(H if masked else 0):
                h_in[b, j] = h[j] * h_mask[b, j]
            for j in range(H if has_y else 0):
                y[b, t, j] = valid[b, t] * h[j]


@jit
def _backward(function, compute, wp,
              w, h0, c0, gi, bi, gh, gc, bc, h_mask, keep_h, keep_c, valid, xi, xr, stats, hs, cs,
              grad_y, grad_h, grad_c, grad_u, dh, dc, dw, gr, h_in, rec, acc):  # pragma: no cover - compiled
    """The forward's saved arrays and the output gradients -> grad_u (T, B, 4H), dL/dh_0 and dL/dc_0
    in dh, dc (B, H), dL/dW_hh added to dw (4H, H; skipped when empty) and the LN parameter
    gradients in acc (see `backward_row`). gr (C, B, 4H), h_in (C, B, H): dL/dr and W_hh's input
    for C steps, so that dW_hh is one GEMM per C steps (over C B rows) without a (T, B, 4H) array."""
    T, B, G = xi.shape
    H, C = G // 4, gr.shape[0]
    slots = scratch(xi.dtype)
    carries, rows, none = np.empty((2, H), xi.dtype), np.empty((3, G), xi.dtype), np.empty(0, xi.dtype)
    one = xi.dtype.type(1)
    masked, has_v, need_w = h_mask.shape[0] > 0, valid.shape[0] > 0, dw.shape[0] > 0
    for b in range(B):
        dh[b] = grad_h[b] + (valid[b, T - 1] if has_v else one) * grad_y[b, T - 1]
    dc[:] = grad_c
    for t in range(T - 1, -1, -1):
        s = (T - 1 - t) % C
        for b in range(B):
            hp = h0[b] if t == 0 else hs[b, t - 1]
            backward_row(xi[t, b], xr[t, b], stats[b, t], c0[b] if t == 0 else cs[b, t - 1],
                         carry_row(keep_h, b, t, carries[0]), carry_row(keep_c, b, t, carries[1]), gi, bi, gh,
                         gc, bc, h_mask[b] if masked and t < T - 1 else none, rec[b] if masked else none,
                         dh[b], dc[b], grad_u[t, b], gr[s, b], rows, acc)
            for j in range(H if t > 0 else 0):
                dh[b, j] += (valid[b, t - 1] if has_v else one) * grad_y[b, t - 1, j]
            for j in range(H if need_w else 0):
                h_in[s, b, j] = hp[j] * h_mask[b, j] if masked else hp[j]
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
            _forward(*blas_args(w_hh, dt, True, B, T), array(u.transpose(0, 1), dt), array(h0, dt), array(c0, dt),
                     array(w_hh, dt), *(array(p, dt) for p in (gain_ih, bias_ih, gain_hh, gain_c, bias_c)),
                     float(eps), hm, kh, kc, v, xi.numpy(), xr.numpy(), stats.numpy(), hs.numpy(), cs.numpy(),
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
        acc = np.zeros(14 * H)                                                # float64: γ_ih | β_ih | γ_hh | γ_c | β_c
        need_w = ctx.needs_input_grad[5]
        grad_w = torch.zeros(G, H, dtype=dt) if need_w else None
        if xi.numel():
            hm, kh, kc, v, rec = options(h_mask, ctx.keeps, valid, h0)
            steps = max(1, min(T, -(-CHUNK_ROWS // B)))                       # dW_hh's GEMM: steps B >= 256 rows
            gr, h_in = np.empty((steps, B, G), NUMPY[dt]), np.empty((steps, B, H), NUMPY[dt])
            _backward(*blas_args(w_hh, dt, False, B, T), array(w_hh, dt), array(h0, dt), array(c0, dt),
                      *(array(p, dt) for p in params), hm, kh, kc, v, xi.numpy(), xr.numpy(), stats.numpy(),
                      hs.detach().numpy(), cs.detach().numpy(), array(grad_y, dt), array(grad_h, dt),
                      array(grad_c, dt), grad_u.numpy(), dh.numpy(), dc.numpy(),
                      grad_w.numpy() if need_w else np.empty((0, 0), NUMPY[dt]), gr, h_in, rec, acc)
        sums = torch.from_numpy(acc).to(dt).split([G, G, G, H, H])
        return (grad_u.transpose(0, 1), sums[0], sums[1], dh, dc, grad_w, *sums[2:]) + (None,) * 5


def smoke(dtype: torch.dtype) -> None:
    """This loop forward and backward on a tiny input: what `backend.native` tries once per dtype."""
    u, w = torch.randn(2, 3, 8, dtype=dtype, requires_grad=True), torch.randn(8, 2, dtype=dtype, requires_grad=True)
    h0, c0, ln = torch.zeros(2, 2, dtype=dtype), torch.zeros(2, 2, dtype=dtype), torch.ones(28, dtype=dtype)
    y, h, c = NativeLayerNormLSTMLoop.apply(u, ln[:8], ln[8:16] - 1, h0, c0, w, ln[16:24], ln[24:26], ln[26:] - 1,
                                            None, 0.5, None, None, 1e-5)
    (y.sum() + h.sum() + c.sum()).backward()

