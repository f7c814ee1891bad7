"""Time helpers of the runner: masks, flipping padded sequences, and (re-exported from the
kernels, which the cells use) the log-space parallel scan of linear recurrences."""

from __future__ import annotations

import torch
from torch import Tensor

from ..kernels.linear_scan import parallel_scan_log as parallel_scan_log


def time_mask(lengths: Tensor, steps: int) -> Tensor:
    """(B,) lengths -> (B, T) bool mask, True on each sequence's valid steps.

    >>> time_mask(torch.tensor([2, 0, 3]), 3).int().tolist()
    [[1, 1, 0], [0, 0, 0], [1, 1, 1]]
    """
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def flip_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverses the valid steps of each sequence in x: (B, T, ...); padding stays at the end.

    >>> flip_padded(torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2])).tolist()
    [[3, 2, 1], [5, 4, 0]]
    """
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.size(1), device=x.device)[None, :]                  # (1, T)
    lengths = lengths.to(x.device)[:, None]                                    # (B, 1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)           # (B, T)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)
