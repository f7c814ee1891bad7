"""First differences as extra input channels: x_t -> [x_t, (Δx_t - μ) / σ], Δx_t = x_t - x_{t-1}.

A recurrent network over raw values must learn for itself to subtract consecutive inputs before it
sees a slope or a turning point, which is what separates many shapes (GunPoint's draw vs point:
the hand's acceleration, not its position). Handing the difference over as a channel is the
classic remedy of time-series classification (Górecki & Łuczak 2013, derivative DTW; Keogh &
Pazzani 2001) and costs one subtraction. The first step's difference is 0 (nothing before it);
steps after a sequence's length are padding that the recurrent layers never read, so no mask is
needed here. μ and σ are buffers saved with the weights, from the training split, so a loaded model
reads raw series without its training data.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Differences(nn.Module):
    """(B, T, C) -> (B, T, 2C): the inputs, then their standardised first differences."""

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        if mean.dim() != 1 or mean.shape != std.shape:
            raise ValueError(f"mean and std must be (channels,) vectors of one size, got {tuple(mean.shape)} "
                             f"and {tuple(std.shape)}")
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("std", std.detach().clone().clamp_min(1e-8))

    @staticmethod
    def raw(x: Tensor) -> Tensor:
        """Δx: (B, T, C), 0 at the first step."""
        return torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.size(2) != self.mean.numel():
            raise ValueError(f"expected (batch, time, {self.mean.numel()}) inputs, got shape {tuple(x.shape)}")
        return torch.cat([x, (self.raw(x) - self.mean) / self.std], dim=2)               # (B, T, 2C)


def difference_statistics(sequences: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Per-channel mean and std of the first differences within each (T, C) sequence (none
    across sequence boundaries; the zero of each first step excluded), in float64."""
    steps = [s[1:] - s[:-1] for s in sequences if s.size(0) > 1]
    if not steps:
        raise ValueError("first differences need sequences of at least 2 steps; every sequence here has 1")
    diffs = torch.cat(steps).double()                                                    # (sum T - N, C)
    std = diffs.std(0) if diffs.size(0) > 1 else torch.ones(diffs.size(1), dtype=torch.float64)
    return diffs.mean(0), std.clamp_min(1e-8)
