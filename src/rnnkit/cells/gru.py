"""Gated recurrent unit (Cho et al. 2014), in torch's formulation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._fused import masked_fused_scan
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

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_size = (hidden_size,)
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: U(-1/sqrt(H), 1/sqrt(H)) for every parameter (see cells.init)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

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

    def weights(self) -> list[Tensor]:
        ws = [self.weight_ih, self.weight_hh]
        return ws + [self.bias_ih, self.bias_hh] if self.bias_ih is not None else ws

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """Fast path: torch's fused `gru` kernel on this cell's parameters; with recurrent
        dropout or a mask that is not a prefix, the hand-written BPTT of `rnnkit.kernels`."""
        if h_mask is None:
            out = masked_fused_scan("gru", x, state, self.weights(), mask)
            if out is not None:
                return out
        # recurrent dropout or a mask with holes: the hand-written BPTT loop
        from ..kernels import fused_loop  # lazy: kernels import the cells

        out = fused_loop(self, x, state, mask=mask, h_mask=h_mask)
        return out if out is not None else self.reference_scan(x, state, mask, h_mask)
