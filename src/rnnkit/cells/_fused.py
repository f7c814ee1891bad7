"""Calls into torch's fused single-layer recurrent kernels (oneDNN / cuDNN / ATen).

The cells keep torch's parameter names and gate order, so their own parameters are passed
straight to `torch.lstm`, `torch.gru`, `torch.rnn_tanh` and `torch.rnn_relu`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Cell, State


def fused_weights(cell: Cell) -> list[Tensor]:
    """The cell's parameters in the order torch's kernels take them."""
    weights = [cell.weight_ih, cell.weight_hh]
    return weights + [cell.bias_ih, cell.bias_hh] if cell.bias_ih is not None else weights


_KERNELS = {"lstm": torch.lstm, "gru": torch.gru, "tanh": torch.rnn_tanh, "relu": torch.rnn_relu}


def fused_scan(kind: str, x: Tensor, state: State, weights: list[Tensor]) -> tuple[Tensor, State]:
    """Runs one unidirectional layer over x: (B, T, I) with torch's kernel for `kind`."""
    has_biases = len(weights) == 4
    hx = tuple(s.unsqueeze(0) for s in state)                               # (1, B, H) each
    kernel = _KERNELS[kind]
    if kind == "lstm":
        y, h, c = kernel(x, hx, weights, has_biases, 1, 0.0, False, False, True)
        return y, (h[0], c[0])
    y, h = kernel(x, hx[0], weights, has_biases, 1, 0.0, False, False, True)
    return y, (h[0],)                                                       # y: (B, T, H)


def prefix_lengths(mask: Tensor) -> Tensor | None:
    """The lengths of a mask that is True on a prefix of each row (the masks `Recurrent`
    builds), or None when the mask has holes and a fast path cannot use it."""
    lengths = mask.sum(1)                                                   # (B,)
    steps = torch.arange(mask.size(1), device=mask.device)
    if not torch.equal(mask, steps[None, :] < lengths[:, None]):
        return None
    return lengths


def last_valid(y: Tensor, lengths: Tensor, initial: Tensor) -> Tensor:
    """y: (B, T, H) -> (B, H), the output at step lengths-1, or `initial` where lengths == 0."""
    index = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, y.size(2))
    last = y.gather(1, index).squeeze(1)
    return torch.where((lengths > 0)[:, None], last, initial)


def masked_fused_scan(kind: str, x: Tensor, state: State, weights: list[Tensor],
                      mask: Tensor | None) -> tuple[Tensor, State] | None:
    """Fused kernel with padding, for cells whose state is just h (Elman, GRU): padding sits
    after the valid steps, so valid outputs are unaffected and the final state is the output at
    each sequence's last valid step. Returns None when the mask is not a prefix mask."""
    if mask is None:
        return fused_scan(kind, x, state, weights)
    lengths = prefix_lengths(mask)
    if lengths is None:
        return None
    y, _ = fused_scan(kind, x, state, weights)
    h = last_valid(y, lengths, state[0])
    return y * mask[:, :, None].to(y.dtype), (h,)
