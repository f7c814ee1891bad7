"""Initialisers for recurrent cells, chosen by name in config through INITIALIZERS.

- "torch": U(-1/sqrt(H), 1/sqrt(H)) for every parameter, torch.nn's default and what every cell
  does on construction, so a cell mirrors its torch.nn twin until told otherwise.
- "orthogonal" (the default in config, as in Keras): Xavier/Glorot-uniform input weights
  (Glorot & Bengio 2010), an orthogonal matrix per gate block of W_hh (Saxe et al. 2014:
  orthogonal recurrences keep gradient norms from exploding or vanishing early in training),
  zero biases, and an LSTM forget-gate bias of `forget_bias` = 1.0 (Gers et al. 2000;
  Jozefowicz et al. 2015), so the cell remembers by default.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .base import Cell


def torch_default(cell: Cell, *, forget_bias: float = 0.0) -> None:
    """torch.nn's initialisation; `forget_bias` is added to the LSTM forget-gate bias."""
    cell.reset_parameters()
    _add_forget_bias(cell, forget_bias)


def orthogonal(cell: Cell, *, forget_bias: float = 1.0) -> None:
    """Xavier input weights, orthogonal recurrent weights, zero biases, forget bias."""
    cell.reset_parameters()                    # layer-norm gains and anything not touched below
    gates = getattr(cell, "gates", 1)
    # Only trained weights: a reservoir's fixed W_in and W are buffers and keep their scaling.
    with torch.no_grad():
        weight_ih = getattr(cell, "weight_ih", None)
        if isinstance(weight_ih, nn.Parameter):
            for block in weight_ih.chunk(gates, dim=0):
                nn.init.xavier_uniform_(block)
        weight_hh = getattr(cell, "weight_hh", None)
        if isinstance(weight_hh, nn.Parameter):
            for block in weight_hh.chunk(gates, dim=0):
                nn.init.orthogonal_(block)
        for name in ("bias_ih", "bias_hh"):
            bias = getattr(cell, name, None)
            if isinstance(bias, nn.Parameter):
                bias.zero_()
    _add_forget_bias(cell, forget_bias)


def _add_forget_bias(cell: Cell, value: float) -> None:
    """Adds `value` to the forget-gate slice [H, 2H) of an LSTM's input-side bias."""
    if value == 0.0 or getattr(cell, "gates", None) != 4:
        return
    bias = cell.bias_ih if hasattr(cell, "bias_ih") else cell.ln_ih.bias
    if bias is None:
        raise ValueError("forget_bias needs a cell with a bias; build it with bias=True")
    with torch.no_grad():
        bias[cell.hidden_size:2 * cell.hidden_size] += value


INITIALIZERS: dict[str, Callable[..., None]] = {"torch": torch_default, "orthogonal": orthogonal}
