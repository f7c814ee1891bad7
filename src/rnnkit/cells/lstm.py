"""Long short-term memory (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..kernels import bptt_loop, lstm_loop
from ._fused import fused_scan, fused_weights
from .base import Cell, State


class LSTMCell(Cell):
    """LSTM step, the same as `torch.nn.LSTMCell`:

        i, f, g, o = σ(W_ii x + W_hi h + b_i), σ(W_if x + W_hf h + b_f),
                     tanh(W_ig x + W_hg h + b_g), σ(W_io x + W_ho h + b_o)
        c' = f ⊙ c + i ⊙ g
        h' = o ⊙ tanh(c')

    Gate order (i, f, g, o) and parameter names follow torch, so `load_state_dict` from
    `torch.nn.LSTMCell` works as is. State is (h, c).
    """

    bptt_kernel = staticmethod(lstm_loop)
    gates = 4

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_size = (hidden_size, hidden_size)
        self.add_gate_parameters(4, bias=bias)
        self.reset_parameters()


    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state                                                          # (B, H) each
        gates = F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)
        i, f, g, o = gates.chunk(4, dim=-1)                                   # (B, H) each
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """Fast path: torch's fused `lstm` kernel (oneDNN on CPU, cuDNN on GPU) without padding.
        With padding the fused kernel cannot return each sequence's last valid c (it only
        returns h for every step), so padded batches and recurrent dropout take the hand-written
        BPTT loop (`rnnkit.kernels`)."""
        if mask is None and h_mask is None:
            return fused_scan("lstm", x, state, fused_weights(self))
        out = bptt_loop(self, x, state, mask=mask, h_mask=h_mask)
        return out if out is not None else self.reference_scan(x, state, mask, h_mask)
