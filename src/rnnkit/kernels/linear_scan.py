"""Hand-written BPTT for a diagonal linear recurrence, h_t = a_t ⊙ h_{t-1} + b_t (minGRU's).

On the CPU a sequential loop of one fused multiply-add per step, with the backward written
out, is several times faster than the log-space parallel scan: torch's CPU `logcumsumexp` is
itself sequential and costs far more per element than `addcmul`, and the linear form needs no
exp/log at all, so it is also exact. The log-space scan stays the GPU path
(`layers.scan.parallel_scan_log`), where parallelism over T wins; tests hold the two equal.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class LinearRecurrence(torch.autograd.Function):
    """(a, b, h0) -> h with h_t = a_t h_{t-1} + b_t; a, b: (B, T, H), h0: (B, H).

    Backward, with g_t = dL/dh_t through all later steps:
        g_t = ∂L/∂h_t + a_{t+1} g_{t+1},   dL/db_t = g_t,   dL/da_t = g_t h_{t-1},   dL/dh0 = a_1 g_1.
    """

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
        h = torch.empty_like(b)
        prev = h0
        for a_t, b_t, h_t in zip(a.unbind(1), b.unbind(1), h.unbind(1)):
            torch.addcmul(b_t, a_t, prev, out=h_t)
            prev = h_t
        ctx.save_for_backward(a, h0, h)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a, h0, h = ctx.saved_tensors
        g = torch.empty_like(h)
        gs, dys, a_s = g.unbind(1), grad_h.unbind(1), a.unbind(1)
        gs[-1].copy_(dys[-1])
        for t in range(len(gs) - 2, -1, -1):
            torch.addcmul(dys[t], a_s[t + 1], gs[t + 1], out=gs[t])
        h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)                   # (B, T, H)
        return g * h_prev, g, a_s[0] * gs[0]


def linear_recurrence(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """h_t = a_t ⊙ h_{t-1} + b_t for all t: (B, T, H) x2, (B, H) -> (B, T, H)."""
    return LinearRecurrence.apply(a, b, h0)
