"""Elman's simple recurrent network (Elman 1990)."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._fused import masked_fused_scan
from .base import Cell, State

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class ElmanCell(Cell):
    """Elman RNN step (Elman 1990), the same as `torch.nn.RNNCell`:

        h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),   f = tanh or ReLU.

    The output is h_t; an output layer `y_t = W_ho h_t + b'` is `layers.Readout`.
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, *,
                 nonlinearity: Literal["tanh", "relu"] = "tanh", bias: bool = True) -> None:
        super().__init__()
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_size = (hidden_size,)
        self.nonlinearity = nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(hidden_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: U(-1/sqrt(H), 1/sqrt(H)) for every parameter (see cells.init)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        (h,) = state                                                          # (B, H)
        h = _ACTIVATIONS[self.nonlinearity](
            F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh))
        return h, (h,)

    def weights(self) -> list[Tensor]:
        ws = [self.weight_ih, self.weight_hh]
        return ws + [self.bias_ih, self.bias_hh] if self.bias_ih is not None else ws

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """Fast path: torch's fused `rnn_tanh` / `rnn_relu` on this cell's parameters; with
        recurrent dropout or a mask that is not a prefix, the hand-written BPTT of `rnnkit.kernels`."""
        if h_mask is None:
            out = masked_fused_scan(self.nonlinearity, x, state, self.weights(), mask)
            if out is not None:
                return out
        # recurrent dropout or a mask with holes: the hand-written BPTT loop
        from ..kernels import fused_loop  # lazy: kernels import the cells

        out = fused_loop(self, x, state, mask=mask, h_mask=h_mask)
        return out if out is not None else self.reference_scan(x, state, mask, h_mask)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"
