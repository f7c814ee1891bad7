"""Gated recurrent unit (Cho et al. 2014), in torch's formulation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..kernels import bptt_loop, gru_loop, native_gru
from ._fused import fused_weights, masked_fused_scan
from .base import Cell, State


class GRUCell(Cell):
    """GRU step (Cho et al. 2014), the same as `torch.nn.GRUCell`:

        r = σ(W_ir x + b_ir + W_hr h + b_hr)                 reset gate
        z = σ(W_iz x + b_iz + W_hz h + b_hz)                 update gate
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))        candidate
        h' = (1 - z) ⊙ n + z ⊙ h

    The reset gate multiplies the recurrent product *after* the bias (torch and cuDNN's form,
    not the original paper's r ⊙ h inside the product). Gate order (r, z, n) follows torch.
    """

    bptt_kernel = staticmethod(gru_loop)
    gates = 3

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_size = (hidden_size,)
        self.add_gate_parameters(3, bias=bias)
        self.reset_parameters()


    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        return self.recurrent_step(x, state, state[0])

    def recurrent_step(self, x: Tensor, state: State, h_in: Tensor) -> tuple[Tensor, State]:
        """h_in enters the recurrent product; the carry z ⊙ h keeps the state's own h."""
        (h,) = state                                                          # (B, H)
        xr, xz, xn = F.linear(x, self.weight_ih, self.bias_ih).chunk(3, dim=-1)
        hr, hz, hn = F.linear(h_in, self.weight_hh, self.bias_hh).chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = torch.lerp(n, h, z)                                               # (1 - z) n + z h
        return h, (h,)

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """Fast path: on the CPU the native BPTT loop of `rnnkit.kernels` (torch's CPU GRU is
        unfused and slower to train: docs/benchmarks.md); elsewhere torch's fused `gru` kernel
        on this cell's parameters, and the hand-written loop with recurrent dropout or a mask
        that is not a prefix."""
        if h_mask is None and not native_gru(x):
            out = masked_fused_scan("gru", x, state, fused_weights(self), mask)
            if out is not None:
                return out
        # recurrent dropout or a mask with holes: the hand-written BPTT loop
        out = bptt_loop(self, x, state, mask=mask, h_mask=h_mask)
        return out if out is not None else self.reference_scan(x, state, mask, h_mask)
