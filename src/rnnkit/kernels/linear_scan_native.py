"""minGRU's linear recurrence compiled with numba: the plain form h_t = a_t ⊙ h_{t-1} + b_t, and
the form fused with minGRU's gates.

`LinearRecurrence` dispatches two torch ops per step (one addcmul forward, one backward), about
5 us each, for a step of B H multiply-adds. Here each direction is one loop. The sequences do not
interact (there is no W_hh), so each one runs start to end with its rows in order: one stream in,
one stream out, and the step's state stays in L1.

That loop alone is not where most of the minGRU layer's training time goes. Profiled at T = 4096
(B, I, H = 8, 64, 128, one thread), the recurrence is 40% of a training step, the GEMM 10%, and
the other half is the autograd graph of a = 1 - z, b = z ⊙ g(u) and the padding `where`s around
it: a dozen (B, T, H) passes, each a fresh 16 MB buffer to fault in. `NativeMinGRUScan` therefore
takes the gate pre-activations and does all of it in the loop:

    forward:   z = σ(k_t), h̃ = g(u_t), h_t = (1 - z) h_{t-1} + z h̃     (h_t = h_{t-1} on padding)
    backward:  with d = dL/dh_t through all later steps,
               dk_t = d (h̃ - h_{t-1}) z (1 - z),   du_t = d z g'(u_t),   dL/dh_{t-1} = d (1 - z)

where g is the minGRU activation (u + 1/2 for u >= 0, σ(u) below; Feng et al. 2024, B.3).
Forward saves only the states (and autograd keeps the gates, its input); backward recomputes z
and h̃ from the gates rather than keeping two more (B, T, H) buffers alive. The loops are plain
maps over a row with `_fastmath`'s σ, so LLVM vectorises them (see `lstm_native` for the
compiler settings this needs). At the shape above a training step of the layer went from 280 to
73 ms (nn.GRU: 900 ms), one thread.

numba is optional: without it `available()` is False. The first call per dtype compiles (1 to 4
seconds on a 2-core machine) and the machine code is cached next to this file.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._fastmath import sigmoid
from ._native_common import array, check_dtype, jit
from ._native_common import available as available
from .workspace import empty


def _recurrence_row(a, b, hp, h):  # pragma: no cover - compiled
    for j in range(h.shape[0]):
        h[j] = a[j] * hp[j] + b[j]


def _recurrence_backward_row(a, hp, dy, da, db, g):  # pragma: no cover - compiled
    """g (H,): a_{t+1} g_{t+1} on entry, a_t g_t on exit."""
    for j in range(g.shape[0]):
        d = dy[j] + g[j]
        db[j] = d
        da[j] = d * hp[j]
        g[j] = a[j] * d


def _recurrence(a, b, h0, h):  # pragma: no cover - compiled
    """h (B, T, H) = the states of h_t = a_t h_{t-1} + b_t from h0 (B, H). The step is a
    function of its rows: written inline, with the previous row a variable reassigned in the
    loop, numba's loops stayed scalar (7x slower)."""
    B, T, H = h.shape
    for s in range(B):
        for t in range(T):
            _recurrence_row(a[s, t], b[s, t], h0[s] if t == 0 else h[s, t - 1], h[s, t])


def _recurrence_backward(a, h0, h, grad_h, grad_a, grad_b, grad_h0):  # pragma: no cover - compiled
    """grad_a, grad_b (B, T, H) and grad_h0 (B, H) from dL/dh (B, T, H): with
    g_t = ∂L/∂h_t + a_{t+1} g_{t+1}, dL/db_t = g_t, dL/da_t = g_t h_{t-1}, dL/dh_0 = a_1 g_1."""
    B, T, H = h.shape
    grad_h0[:] = 0
    for s in range(B):
        for t in range(T - 1, -1, -1):
            _recurrence_backward_row(a[s, t], h0[s] if t == 0 else h[s, t - 1], grad_h[s, t], grad_a[s, t],
                                     grad_b[s, t], grad_h0[s])


def _mingru_row(row, hp, h):  # pragma: no cover - compiled
    """One step of one sequence: row (2H,) = (k | u), hp (H,) = h_{t-1} -> h (H,). σ(u) is
    computed for every u and then selected, so the loop has no branch and vectorises. (With the
    step written inline in the time loop, or through an inlined helper returning a tuple, numba's
    loop stayed scalar: 30 instead of 4 ns per float32 element.)"""
    H = h.shape[0]
    half, one = h.dtype.type(0.5), h.dtype.type(1)
    for j in range(H):
        z, u = sigmoid(row[j]), row[H + j]
        s = sigmoid(u)
        cand = u + half if u >= 0 else s                                      # h̃ = g(u)
        h[j] = (one - z) * hp[j] + z * cand


def _mingru_backward_row(row, hp, dy, dg, d):  # pragma: no cover - compiled
    """Backward of `_mingru_row`: d (H,) is dL/dh_t from later steps on entry (dy adds this
    step's output gradient) and dL/dh_{t-1} on exit; writes dg (2H,) = (dk | du)."""
    H = d.shape[0]
    half, one = d.dtype.type(0.5), d.dtype.type(1)
    for j in range(H):
        z, u = sigmoid(row[j]), row[H + j]
        s = sigmoid(u)
        cand = u + half if u >= 0 else s
        slope = one if u >= 0 else s * (one - s)                              # g'(u)
        dj = d[j] + dy[j]
        dg[j] = dj * (cand - hp[j]) * (z - z * z)                             # σ'(k) (h̃ - h_{t-1})
        dg[H + j] = dj * z * slope
        d[j] = dj * (one - z)


def _mingru(gates, h0, valid, h, y):  # pragma: no cover - compiled
    """gates (B, T, 2H): pre-activations (k | u); h0 (B, H); valid (B, T) bool or (0, 0). Writes
    the states h (B, T, H) and, when valid is given, y = h on valid steps and 0 on padding."""
    B, T, H = h.shape
    padded = valid.shape[0] > 0
    for s in range(B):
        for t in range(T):
            hp = h0[s] if t == 0 else h[s, t - 1]
            if padded and not valid[s, t]:            # the state carries over bit for bit
                h[s, t] = hp
                y[s, t] = 0
                continue
            _mingru_row(gates[s, t], hp, h[s, t])
            if padded:
                y[s, t] = h[s, t]


def _mingru_backward(gates, h0, h, valid, grad_y, grad_gates, dh):  # pragma: no cover - compiled
    """grad_gates (B, T, 2H) from dL/dy (B, T, H); dh (B, H) holds dL/dh_T on entry and
    dL/dh_0 on exit."""
    B, T, H = h.shape
    padded = valid.shape[0] > 0
    for s in range(B):
        for t in range(T - 1, -1, -1):
            if padded and not valid[s, t]:            # a = 1, b = 0, y = 0: dL/dh passes unchanged
                grad_gates[s, t] = 0
                continue
            _mingru_backward_row(gates[s, t], h0[s] if t == 0 else h[s, t - 1], grad_y[s, t], grad_gates[s, t],
                                 dh[s])


# error_model="numpy" (in `jit`): no ZeroDivisionError branch in σ's division, which keeps loops scalar.
_recurrence_row, _recurrence_backward_row = jit(_recurrence_row), jit(_recurrence_backward_row)
_recurrence, _recurrence_backward = jit(_recurrence), jit(_recurrence_backward)
_mingru_row, _mingru_backward_row = jit(_mingru_row), jit(_mingru_backward_row)
_mingru, _mingru_backward = jit(_mingru), jit(_mingru_backward)


class NativeLinearRecurrence(torch.autograd.Function):
    """`linear_scan.LinearRecurrence` compiled: (a, b, h0) -> h with h_t = a_t h_{t-1} + b_t;
    a, b: (B, T, H), h0: (B, H), h: (B, T, H). The same results and gradients."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
        check_dtype("NativeLinearRecurrence", "LinearRecurrence", b)
        dt = b.dtype
        h = empty(tuple(b.shape), dt)
        _recurrence(array(a, dt), array(b, dt), array(h0, dt), h.numpy())
        ctx.save_for_backward(a, h0, h)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a, h0, h = ctx.saved_tensors
        dt = h.dtype
        grad_a, grad_b, grad_h0 = empty(tuple(h.shape), dt), empty(tuple(h.shape), dt), h.new_empty(h0.shape)
        _recurrence_backward(array(a, dt), array(h0, dt), h.detach().numpy(), array(grad_h, dt),
                             grad_a.numpy(), grad_b.numpy(), grad_h0.numpy())
        return grad_a, grad_b, grad_h0


class NativeMinGRUScan(torch.autograd.Function):
    """minGRU over a whole sequence from its gate pre-activations, one compiled loop each way.

    (gates, h0, mask) -> (y, h_T). gates: (B, T, 2H), F.linear(x, weight_ih, bias_ih) in the
    cell's order (k | u), z = σ(k), h̃ = g(u); h0: (B, H); mask: (B, T) bool valid steps or None.
    y: (B, T, H) the states, zero on padded steps; h_T: (B, H) each sequence's last valid state.
    This is `MinGRUCell.scan`'s CPU path from the gates on, in one `Function`.
    """

    @staticmethod
    def forward(ctx, gates: Tensor, h0: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        check_dtype("NativeMinGRUScan", "MinGRUCell.scan's torch path", gates)
        B, T, G = gates.shape
        if G != 2 * h0.size(-1):
            raise ValueError(f"gates must be (B, T, 2H) for h0 (B, H), got {tuple(gates.shape)} and {tuple(h0.shape)}")
        dt = gates.dtype
        h = empty((B, T, G // 2), dt)
        y = h if mask is None else empty((B, T, G // 2), dt)
        valid = np.empty((0, 0), np.bool_) if mask is None else array(mask, torch.bool)
        _mingru(array(gates, dt), array(h0, dt), valid, h.numpy(), y.numpy())
        ctx.save_for_backward(gates, h0, h, mask)
        last = h0 if T == 0 else h[:, -1]
        return y, last.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: Tensor, grad_last: Tensor) -> tuple[Tensor, Tensor, None]:
        gates, h0, h, mask = ctx.saved_tensors
        dt = gates.dtype
        grad_gates = empty(tuple(gates.shape), dt)
        dh = grad_last.to(dt, memory_format=torch.contiguous_format, copy=True)   # written in place
        valid = np.empty((0, 0), np.bool_) if mask is None else array(mask, torch.bool)
        _mingru_backward(array(gates, dt), array(h0, dt), h.detach().numpy(), valid, array(grad_y, dt),
                         grad_gates.numpy(), dh.numpy())
        return grad_gates, dh, None


def smoke(dtype: torch.dtype) -> None:
    """Both loops forward and backward on a tiny input: what `backend.native` tries once per dtype."""
    gates, h0 = torch.randn(2, 3, 4, dtype=dtype, requires_grad=True), torch.zeros(2, 2, dtype=dtype)
    y, last = NativeMinGRUScan.apply(gates, h0, torch.tensor([[True, True, False]] * 2))
    a = torch.rand(2, 3, 2, dtype=dtype, requires_grad=True)
    (y.sum() + last.sum() + NativeLinearRecurrence.apply(a, a, h0).sum()).backward()
