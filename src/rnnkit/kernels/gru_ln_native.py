"""The layer-normalised GRU's BPTT loop (`gru.GRULoop` with ln=True) compiled with numba, in the
manner of `lstm_ln_native` and `gru_native`.

Per step `GRULoop` runs the plain cell's torch ops plus LN_hh forward and its backward kernel,
each a dispatch and a pass over memory. Here a step is one BLAS GEMM against W_hh and one fused
pass per sequence row, LN_hh inside it (Ba et al. 2016, section 3.1; x̂ = (x - μ) / σ over the row,
σ² biased, as torch's; LN_hh's shift β is the recurrent bias b_hh, which r multiplies in the n part):

    forward:   q = h_in W_hhᵀ (GEMM);  x̂ = LN(q), kept in q's place;  h_rzn = γ x̂ + β
               r, z = σ(x_rz + h_rz),  n = tanh(x_n + r ⊙ h_n),  h̃ = lerp(n, h_{t-1}, z)
               h_t = lerp(h̃, h_{t-1}, k),  h_in = h_t ⊙ h_mask
    backward:  dh_rzn as `gru_native` (the same compiled row), then back through LN_hh:
               Σ dh_rzn x̂ and Σ dh_rzn added to dγ, dβ (float64, as the loop goes),
               dq = (1/σ) (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)),  dx̂ = γ dh_rzn;
               dh_{t-1} += (dq W_hh) ⊙ h_mask (GEMM)

After LN_hh the step is the plain GRU's with h_rzn = γ x̂ + β in place of W_hh h_in + b_hh, so the
rows call `gru_native`'s row functions with γ x̂ as the GEMM's product and β as b_hh; the layer
norm's row pieces are `_native_layer_norm`'s. Forward keeps x̂ (not q) and 1/σ per row: backward
needs nothing else for LN's input gradient, and dγ = Σ dh_rzn x̂ needs x̂ itself.

The arrays 3H wide (xp, the activations, x̂ and their gradients) are time-major, (T, B, 3H):
layernorm_gru_loop's LN_ih output is stored that way, so xp needs no copy and dxp goes back in the
layout LN_ih's backward reads, and each step's GEMM writes one contiguous block. The H-wide arrays
(h_n, the states) are (B, T, H), as y is. dW_hh is one torch GEMM after the loop. The first call
per dtype compiles; the machine code is cached next to this file.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._blas import gemm_w, scratch
from ._common import Carry
from ._native_common import array, blas_args, carry_row, check_dtype, jit, options, weight_grad
from ._native_common import available as available
from ._native_layer_norm import input_grad, normalise
from .gru_native import _backward_row as gru_backward_row
from .gru_native import _forward_row as gru_forward_row
from .workspace import empty

__all__ = ["NativeLayerNormGRULoop", "available"]


@jit
def _forward_row(q, a, x, gain, shift, eps, hp, k, hm, v, h_n, h, h_in, y):  # pragma: no cover - compiled
    """One sequence's step. q (3H): W_hh h_in on entry, x̂ on exit; a (3H) <- r, z, n; x (3H): xp;
    gain, shift (3H): LN_hh's; the rest as `gru_native._forward_row`. Returns 1/σ of the row."""
    _, rstd = normalise(q, q, eps)
    for j in range(q.shape[0]):
        a[j] = gain[j] * q[j]
    gru_forward_row(a, x, shift, hp, k, hm, v, h_n, h, h_in, y)             # h_rzn = γ x̂ + β
    return rstd


@jit
def _forward(function, compute, wp,
             xp, h0, w, gain, shift, eps, h_mask, keep, valid, acts, xq, rstd, h_n, hs, y,
             h_in):  # pragma: no cover - compiled
    """xp: (T, B, 3H); h0: (B, H); w: W_hh (3H, H); gain, shift (3H); options as
    `gru_native._forward`. Writes acts (r, z, n) and xq (x̂): (T, B, 3H); rstd (B, T); h_n, hs
    (B, T, H); y when valid is given."""
    T, B, G = xp.shape
    H = G // 3
    slots = scratch(xp.dtype)
    row, none = np.empty(H, xp.dtype), np.empty(0, xp.dtype)              # a carry row; an absent row
    one, eps = xp.dtype.type(1), xp.dtype.type(eps)                       # eps in the dtype
    masked, has_y = h_mask.shape[0] > 0, valid.shape[0] > 0
    if masked:
        h_in[:] = h0 * h_mask
    for t in range(T):              # the step's (B, 3H) block of xq is contiguous: ldc = 3H
        if masked or t == 0:
            gemm_w(function, compute, True, G, B, H, w, wp, h_in[0] if masked else h0[0], H, xq[t, 0], G, 0.0, slots)
        else:
            gemm_w(function, compute, True, G, B, H, w, wp, hs[0, t - 1], T * H, xq[t, 0], G, 0.0, slots)
        for b in range(B):
            rstd[b, t] = _forward_row(
                xq[t, b], acts[t, b], xp[t, b], gain, shift, eps, h0[b] if t == 0 else hs[b, t - 1],
                carry_row(keep, b, t, row), h_mask[b] if masked else none, valid[b, t] if has_y else one,
                h_n[b, t], hs[b, t], h_in[b] if masked else none, y[b, t] if has_y else none)


@jit
def _backward_row(gx, gq, a, xq, rstd, gain, h_n, hp, k, hm, rec, dh, gy, v,
                  acc_gain, acc_shift):  # pragma: no cover - compiled
    """`gru_native._backward_row` (gx = dL/dxp_t, dh as there), then back through LN_hh: gq (3H)
    leaves as dL/dq, and the step's Σ dh_rzn x̂ and Σ dh_rzn are added to acc_gain, acc_shift."""
    gru_backward_row(gx, gq, a, h_n, hp, k, hm, rec, dh, gy, v)            # gq = dL/dh_rzn
    for j in range(gq.shape[0]):
        acc_shift[j] += gq[j]
        acc_gain[j] += gq[j] * xq[j]
        gq[j] *= gain[j]                                                      # dL/dx̂
    input_grad(gq, xq, rstd)


@jit
def _backward(function, compute, wp,
              w, h0, gain, h_mask, keep, valid, acts, xq, rstd, h_n, hs, grad_y, grad_h,
              grad_x, grad_q, dh, rec, acc):  # pragma: no cover - compiled
    """The forward's saved arrays and the output gradients -> grad_x, grad_q (T, B, 3H), dL/dh_0 in
    dh (B, H) and LN_hh's gain and shift gradients in acc (6H) float64: (γ | β)."""
    T, B, G = acts.shape
    H = G // 3
    slots, one = scratch(acts.dtype), acts.dtype.type(1)
    row, none = np.empty(H, acts.dtype), np.empty(0, acts.dtype)
    masked, has_v = h_mask.shape[0] > 0, valid.shape[0] > 0
    acc_gain, acc_shift = acc[:G], acc[G:]
    for b in range(B):
        dh[b] = grad_h[b] + (valid[b, T - 1] if has_v else one) * grad_y[b, T - 1]
    for t in range(T - 1, -1, -1):
        for b in range(B):
            _backward_row(grad_x[t, b], grad_q[t, b], acts[t, b], xq[t, b], rstd[b, t], gain, h_n[b, t],
                          h0[b] if t == 0 else hs[b, t - 1], carry_row(keep, b, t, row),
                          h_mask[b] if masked and t < T - 1 else none, rec[b] if masked else none, dh[b],
                          grad_y[b, t - 1] if t > 0 else none, valid[b, t - 1] if has_v and t > 0 else one,
                          acc_gain, acc_shift)
        # with h_mask the product goes to rec and is masked in the next row (see `gru_native`)
        gemm_w(function, compute, False, H, B, G, w, wp, grad_q[t, 0], G, rec[0] if masked else dh[0], H,
             0.0 if masked else 1.0, slots)
    if masked:
        dh += h_mask * rec


class NativeLayerNormGRULoop(torch.autograd.Function):
    """`GRULoop` for the layer-norm GRU (ln=True), compiled: the same arguments and results.
    xp: (B, T, 3H) gate inputs in order (r, z, n) with LN_ih applied (time-major storage, as
    `layernorm_gru_loop` makes it; other strides are copied); W_hh (3H, H); gain_hh, bias_hh (3H):
    LN_hh's gain and shift; h_mask (B, H); keep_h: a carry (None, a float or (B, T, n), n in
    {1, H}); valid (B, T, 1); eps: LN_hh's."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, w_hh: Tensor, gain_hh: Tensor | None,
                bias_hh: Tensor | None, h_mask: Tensor | None, keep_h: Carry,
                valid: Tensor | None, ln: bool, eps: float):
        if not ln or gain_hh is None or bias_hh is None:
            raise ValueError("NativeLayerNormGRULoop needs ln=True and LN_hh's gain and shift (the layer-norm "
                             "cell's); the plain GRU runs in NativeGRULoop, other cases in GRULoop")
        check_dtype("NativeLayerNormGRULoop", "GRULoop", xp)
        B, T, G = xp.shape
        H, dt = G // 3, xp.dtype
        acts, xq = empty((T, B, G), dt), empty((T, B, G), dt)               # r, z, n; x̂ of LN_hh
        h_n, hs, rstd = empty((B, T, H), dt), empty((B, T, H), dt), empty((B, T), dt)
        y = hs if valid is None else empty((B, T, H), dt)
        hm, kh, v, h_in = options(h_mask, (keep_h,), valid, h0)   # the carry packed: bytes, see `pack_carry`
        if xp.numel():                                # BLAS rejects zero leading dimensions
            _forward(*blas_args(w_hh, dt, True, B, T), array(xp.transpose(0, 1), dt), array(h0, dt), array(w_hh, dt),
                     array(gain_hh, dt), array(bias_hh, dt), float(eps), hm, kh, v, acts.numpy(), xq.numpy(),
                     rstd.numpy(), h_n.numpy(), hs.numpy(), y.numpy(), h_in)
        ctx.save_for_backward(h0, w_hh, gain_hh, h_mask, valid, acts, xq, rstd, h_n, hs)
        ctx.keep = kh                                 # what backward keeps of (B, T, H) zoneout draws
        return y, (hs[:, -1] if T else h0).clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, grad_h):
        h0, w_hh, gain_hh, h_mask, valid, acts, xq, rstd, h_n, hs = ctx.saved_tensors
        T, B, G = acts.shape
        dt = acts.dtype
        grad_x, grad_q = empty((T, B, G), dt), empty((T, B, G), dt)     # dL/dxp, dL/d(W_hh h_in)
        dh = grad_h.clone(memory_format=torch.contiguous_format)    # the loop needs C order (its GEMMs)
        acc = np.zeros(2 * G)                                                 # float64: (γ | β)
        if acts.numel():
            hm, kh, v, rec = options(h_mask, (ctx.keep,), valid, h0)
            _backward(*blas_args(w_hh, dt, False, B, T), array(w_hh, dt), array(h0, dt), array(gain_hh, dt), hm, kh, v,
                      acts.numpy(), xq.numpy(), rstd.numpy(), h_n.numpy(), hs.detach().numpy(),
                      array(grad_y, dt), array(grad_h, dt), grad_x.numpy(), grad_q.numpy(), dh.numpy(), rec, acc)
        grad_w = weight_grad(grad_q, h0, hs, w_hh, h_mask, time_major=True) if ctx.needs_input_grad[2] else None
        sums = torch.from_numpy(acc).to(dt)
        return (grad_x.transpose(0, 1), dh, grad_w, sums[:G], sums[G:]) + (None,) * 5


def smoke(dtype: torch.dtype) -> None:
    """This loop forward and backward on a tiny input: what `backend.native` tries once per dtype."""
    xp, w = torch.randn(2, 3, 6, dtype=dtype, requires_grad=True), torch.randn(6, 2, dtype=dtype, requires_grad=True)
    gain, shift = torch.ones(6, dtype=dtype, requires_grad=True), torch.zeros(6, dtype=dtype, requires_grad=True)
    y, h = NativeLayerNormGRULoop.apply(xp, torch.zeros(2, 2, dtype=dtype), w, gain, shift, None, 0.5, None, True,
                                        1e-5)
    (y.sum() + h.sum()).backward()
