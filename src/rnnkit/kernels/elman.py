"""Hand-written BPTT for the Elman RNN (tanh or ReLU) with padding, recurrent dropout and
zoneout (see `kernels.lstm` for the layout of the kernels):

    h̃_t = f(xp_t + W_hh h_in),   xp = W_ih x + b_ih + b_hh for all T outside the `Function`.

A step is one addmm and the activation forward, one multiply and one GEMM backward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._common import Carry, State, carry_grad, carry_weights, complement, per_step, previous, recurrent_grad, scaled
from .backend import native as use_native
from .elman_native import NativeElmanLoop, smoke


class ElmanLoop(torch.autograd.Function):
    """(xp, h0, W_hh) -> (y, h_T) for xp: (B, T, H) with both biases added. relu picks ReLU over
    tanh; keep_h is the carry (see `_common`), valid (B, T, 1) zeroes y on padding, h_mask
    (B, H) multiplies h where it enters W_hh."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, w_hh: Tensor, h_mask: Tensor | None, keep_h: Carry,
                valid: Tensor | None, relu: bool):
        B, T, H = xp.shape
        hs = xp.new_empty(B, T, H)
        h_new = hs if keep_h is None else xp.new_empty(B, T, H)              # h̃_t, before the carry
        w_t = w_hh.t()
        h_steps, h_news, kh = hs.unbind(1), h_new.unbind(1), per_step(keep_h, T)
        h = h0
        for t, xp_t in enumerate(xp.unbind(1)):
            h_in = h if h_mask is None else h * h_mask
            a = torch.addmm(xp_t, h_in, w_t, out=h_news[t])
            a.relu_() if relu else a.tanh_()
            if keep_h is not None:   # zoneout / padding: h_t = lerp(h̃_t, h_{t-1}, k)
                torch.lerp(a, h, kh[t], out=h_steps[t])
            h = h_steps[t]
        y = hs if valid is None else hs * valid
        ctx.save_for_backward(h0, w_hh, h_mask, valid, hs, h_new)
        ctx.keep, ctx.relu = keep_h, relu
        return y, (hs[:, -1] if T else h0).clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, grad_h):
        h0, w_hh, h_mask, valid, hs, h_new = ctx.saved_tensors
        keep_h = ctx.keep
        B, T, H = hs.shape
        if T == 0:                                    # no steps: h_T was h_0
            return (hs.new_zeros(B, 0, H), grad_h, torch.zeros_like(w_hh)) + (None,) * 4
        # f'(a) from the saved output, times the new value's weight 1 - k, for all steps at once
        slope = (h_new > 0).to(h_new.dtype) if ctx.relu else torch.mul(h_new, h_new).neg_().add_(1)
        new = complement(keep_h)
        if new is not None:
            slope.mul_(new)
        grad_a = hs.new_empty(B, T, H)
        grad_as, slopes, kh = grad_a.unbind(1), slope.unbind(1), per_step(keep_h, T)
        dys = [None] + list((grad_y if valid is None else grad_y * valid).unbind(1))   # dys[t + 1]
        dh = grad_h + dys[T]
        for t in range(T - 1, -1, -1):
            torch.mul(dh, slopes[t], out=grad_as[t])
            dh = recurrent_grad(carry_grad(dys[t], kh[t], dh), grad_as[t], w_hh, h_mask)
        grad_w = None
        if ctx.needs_input_grad[2]:
            h_in = scaled(previous(h0, hs), None if h_mask is None else h_mask[:, None])  # (B, T, H)
            grad_w = grad_a.reshape(-1, H).t().mm(h_in.reshape(-1, H))        # one GEMM over all T
        return (grad_a, dh, grad_w) + (None,) * 4


def elman_loop(cell, x: Tensor, state: State, mask: Tensor | None, h_mask: Tensor | None,
               zoneout: tuple | None) -> tuple[Tensor, State]:
    """ElmanCell over x: (B, T, I) through `ElmanLoop`."""
    bias = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
    xp = F.linear(x, cell.weight_ih, bias)                                   # (B, T, H), one GEMM
    native = native_elman(xp)
    (keep_h,) = carry_weights(zoneout, mask, xp, 1, bits=native)
    valid = None if mask is None else mask[:, :, None].to(xp.dtype)          # (B, T, 1)
    loop = NativeElmanLoop if native else ElmanLoop
    y, h = loop.apply(xp, state[0], cell.weight_hh, h_mask, keep_h, valid, cell.nonlinearity == "relu")
    return y, (h,)


def native_elman(like: Tensor) -> bool:
    """Whether the Elman RNN runs natively on tensors like `like` (see `backend`)."""
    return use_native("elman", like, smoke)
