"""Two solvers of a diagonal linear recurrence, h_t = a_t ⊙ h_{t-1} + b_t (minGRU's).

`linear_recurrence` is a sequential loop of one fused multiply-add per step with the backward
written out. On the CPU it is several times faster than the log-space parallel scan: torch's CPU
`logcumsumexp` is itself sequential and costs far more per element than `addcmul`, and the
linear form needs no exp/log at all, so it is also exact. `parallel_scan_log`, the log-space
scan, is the GPU path, where parallelism over T wins; tests hold the two equal.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .backend import native as use_native
from .linear_scan_native import NativeMinGRUScan as NativeMinGRUScan
from .linear_scan_native import smoke


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


def parallel_scan_log(log_a: Tensor, log_b: Tensor, h0: Tensor, *, chunk: int = 256) -> Tensor:
    """Solves h_t = a_t h_{t-1} + b_t for all t at once, with a_t > 0 and b_t > 0 given as logs
    (Heinsen 2023, "Efficient parallelization of a ubiquitous sequential computation"):

        h_t = A_t h_0 + A_t Σ_{s<=t} b_s / A_s,   A_t = Π_{k<=t} a_k,

    with the sum done as `logcumsumexp` so nothing over- or underflows. h_0 enters linearly, so
    it may be zero or negative. log_a, log_b: (B, T, H); h0: (B, H) -> h: (B, T, H).

    log A_t falls linearly with t, and log h_t = log A_t + logcumsumexp(...) then subtracts two
    large numbers: in float32 over 4096 steps that costs about 2e-4 relative error. Scanning in
    chunks of `chunk` steps (each chunk starting from the last h of the one before) keeps both
    terms small, for a few sequential steps more.
    """
    outs = []
    for la, lb in zip(log_a.split(chunk, dim=1), log_b.split(chunk, dim=1)):
        log_A = la.cumsum(dim=1)                                               # (B, t, H)
        h = torch.exp(log_A + torch.logcumsumexp(lb - log_A, dim=1)) + torch.exp(log_A) * h0[:, None, :]
        outs.append(h)
        h0 = h[:, -1]
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)


def native_mingru(like: Tensor) -> bool:
    """Whether minGRU's whole CPU scan (gates to states, `NativeMinGRUScan`) runs natively on
    tensors like `like` (see `backend`)."""
    return use_native("mingru", like, smoke)
