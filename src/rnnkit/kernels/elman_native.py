"""The Elman RNN's BPTT loop (`elman.ElmanLoop`, tanh or ReLU) compiled with numba, as
`lstm_native` does for the LSTM: per step one BLAS GEMM against W_hh and one fused pass over the
step's rows, with nothing allocated inside the loop.

    forward:   a_t = f(xp_t + h_in W_hhᵀ)  (GEMM, β = 0, then the pass),  f in {tanh, ReLU}
               h_t = lerp(a_t, h_{t-1}, k),  h_in = h_t ⊙ h_mask
    backward:  da_t = (1 - k) f'(a_t) dh_t,  f' = 1 - a² or [a > 0] from the saved output;
               dh_{t-1} = k dh_t + v dy_{t-1} + (da_t W_hh) ⊙ h_mask   (GEMM, see `lstm_native`)

Without a carry h_t is a_t, and the loop writes a_t straight into the states, as `ElmanLoop` does.
The arguments and results are `ElmanLoop`'s. numba is optional: without it `available()` is
False. The first call per dtype compiles and the machine code is cached next to this file.
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


@jit
def _forward(function, compute, wp,
             xp, h0, w, h_mask, keep, carried, relu, valid, acts, hs, y, h_in):  # pragma: no cover
    """xp: (B, T, H); h0: (B, H); w: W_hh (H, H); h_mask (B, H) or (0, 0); keep: the carry (see
    `carry_row`), carried: whether there is one; valid (B, T) or (0, 0). Writes acts = f(·) and
    hs (B, T, H) (the same array when nothing is carried), y when valid is given, and uses h_in
    (B, H) (or (0, 0) without h_mask) as the GEMM input."""
    B, T, H = xp.shape
    slots = scratch(xp.dtype)
    row, none = np.empty(H, xp.dtype), np.empty(0, xp.dtype)              # a carry row; an absent row
    one = xp.dtype.type(1)
    masked, has_y = h_mask.shape[0] > 0, valid.shape[0] > 0
    if masked:
        h_in[:] = h0 * h_mask
    for t in range(T):
        step_gemm(function, compute, w, wp, h0, hs, h_in, masked, acts, t, slots)
        for b in range(B):
            _forward_row(acts[b, t], xp[b, t], h0[b] if t == 0 else hs[b, t - 1], carry_row(keep, b, t, row),
                         carried, relu, h_mask[b] if masked else none, valid[b, t] if has_y else one, hs[b, t],
                         h_in[b] if masked else none, y[b, t] if has_y else none)


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


@jit
def _backward(function, compute, wp,
              w, h_mask, keep, relu, valid, acts, grad_y, grad_h, grad_a, dh, rec):  # pragma: no cover
    """The forward's saved acts and the output gradients -> grad_a (B, T, H) and dL/dh_0 in dh
    (B, H). rec (B, H) holds da_t W_hh when there is an h_mask."""
    B, T, H = acts.shape
    slots = scratch(acts.dtype)
    row, none = np.empty(H, acts.dtype), np.empty(0, acts.dtype)
    one = acts.dtype.type(1)
    masked, has_v = h_mask.shape[0] > 0, valid.shape[0] > 0
    for b in range(B):
        dh[b] = grad_h[b] + (valid[b, T - 1] if has_v else one) * grad_y[b, T - 1]
    for t in range(T - 1, -1, -1):
        for b in range(B):
            _backward_row(grad_a[b, t], acts[b, t], carry_row(keep, b, t, row), relu,
                          h_mask[b] if masked and t < T - 1 else none, rec[b] if masked else none, dh[b],
                          grad_y[b, t - 1] if t > 0 else none, valid[b, t - 1] if has_v and t > 0 else one)
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
            _forward(*blas_args(w_hh, dt, True, B, T), array(xp, dt), array(h0, dt), array(w_hh, dt), hm, kh, carried,
                     bool(relu), v, acts.numpy(), hs.numpy(), y.numpy(), h_in)
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
            _backward(*blas_args(w_hh, dt, False, B, T), array(w_hh, dt), hm, kh, ctx.relu, v, acts.detach().numpy(),
                      array(grad_y, dt), array(grad_h, dt), grad_a.numpy(), dh.numpy(), rec)
        grad_w = weight_grad(grad_a, h0, hs, w_hh, h_mask) if ctx.needs_input_grad[2] else None
        return (grad_a, dh, grad_w) + (None,) * 4


def smoke(dtype: torch.dtype) -> None:
    """This loop forward and backward on a tiny input: what `backend.native` tries once per dtype."""
    xp, w = torch.randn(2, 3, 2, dtype=dtype, requires_grad=True), torch.randn(2, 2, dtype=dtype, requires_grad=True)
    for relu in (False, True):
        y, h = NativeElmanLoop.apply(xp, torch.zeros(2, 2, dtype=dtype), w, None, 0.5, None, relu)
        (y.sum() + h.sum()).backward()
