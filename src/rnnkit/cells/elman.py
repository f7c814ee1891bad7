"""Elman's simple recurrent network (Elman 1990)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..kernels import bptt_loop, elman_loop, native_elman
from ._fused import fused_weights, masked_fused_scan
from .base import Cell, State

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class ElmanCell(Cell):
    """Elman RNN step (Elman 1990), the same as `torch.nn.RNNCell`:

        h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),   f = tanh or ReLU.

    The output is h_t; an output layer `y_t = W_ho h_t + b'` is `layers.Readout`.
    """

    bptt_kernel = staticmethod(elman_loop)
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, *,
                 nonlinearity: Literal["tanh", "relu"] = "tanh", bias: bool = True) -> None:
        super().__init__()
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_size = (hidden_size,)
        self.nonlinearity = nonlinearity
        self.add_gate_parameters(1, bias=bias)
        self.reset_parameters()


    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        (h,) = state                                                          # (B, H)
        h = _ACTIVATIONS[self.nonlinearity](
            F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh))
        return h, (h,)

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """Fast path: on the CPU the native BPTT loop of `rnnkit.kernels` (faster to train than
        torch's CPU kernel: docs/benchmarks.md); elsewhere torch's fused `rnn_tanh` / `rnn_relu`
        on this cell's parameters, and the hand-written loop with recurrent dropout or a mask
        that is not a prefix."""
        if h_mask is None and not native_elman(x):
            out = masked_fused_scan(self.nonlinearity, x, state, fused_weights(self), mask)
            if out is not None:
                return out
        # recurrent dropout or a mask with holes: the hand-written BPTT loop
        out = bptt_loop(self, x, state, mask=mask, h_mask=h_mask)
        return out if out is not None else self.reference_scan(x, state, mask, h_mask)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"
