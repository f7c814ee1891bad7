"""Input validation for the runner: every message says what was expected and what came."""

from __future__ import annotations

import torch
from torch import Tensor

from ..cells.base import Cell, State


def check_input(x: Tensor, cell: Cell) -> None:
    if not hasattr(x, "dim") or x.dim() != 3:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ValueError(f"expected input of shape (batch, time, {cell.input_size}), got {shape}; "
                         "add a batch dimension with x.unsqueeze(0) for a single sequence")
    if x.size(2) != cell.input_size:
        raise ValueError(f"expected {cell.input_size} input features (batch, time, {cell.input_size}), "
                         f"got {x.size(2)} in shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"expected a floating-point input, got {x.dtype}; token ids go through an "
                        "nn.Embedding first")


def check_lengths(lengths: Tensor, x: Tensor) -> None:
    if not hasattr(lengths, "dtype") or lengths.dtype not in (torch.int64, torch.int32):
        got = getattr(lengths, "dtype", type(lengths).__name__)
        raise TypeError(f"lengths must be an int64 or int32 tensor of shape ({x.size(0)},), got {got}")
    if lengths.device != x.device:
        raise ValueError(f"lengths are on {lengths.device} but the input is on {x.device}; "
                         "move them with lengths.to(x.device)")
    if lengths.dim() != 1 or lengths.size(0) != x.size(0):
        raise ValueError(f"lengths must have shape ({x.size(0)},), one per sequence, got {tuple(lengths.shape)}")
    if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > x.size(1)):
        raise ValueError(f"lengths must lie in [0, {x.size(1)}] (the time dimension), got "
                         f"min {int(lengths.min())}, max {int(lengths.max())}")


def check_state(state: State, cell: Cell, x: Tensor) -> None:
    if not isinstance(state, tuple) or len(state) != len(cell.state_size):
        raise ValueError(f"expected a state tuple of {len(cell.state_size)} tensor(s) for "
                         f"{type(cell).__name__}, each (batch, hidden), got {type(state).__name__}"
                         f"{'' if not isinstance(state, tuple) else f' of length {len(state)}'}")
    for i, (s, n) in enumerate(zip(state, cell.state_size)):
        if not hasattr(s, "shape") or tuple(s.shape) != (x.size(0), n):
            got = tuple(s.shape) if hasattr(s, "shape") else type(s).__name__
            raise ValueError(f"state[{i}] must have shape ({x.size(0)}, {n}) (batch, hidden), got {got}")
        if s.dtype != x.dtype or s.device != x.device:
            raise ValueError(f"state[{i}] is {s.dtype} on {s.device} but the input is {x.dtype} on "
                             f"{x.device}; convert it with .to(x)")
