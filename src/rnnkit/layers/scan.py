"""Time helpers shared by the runner and the cells: masks, flipping padded sequences, and the
log-space parallel scan of linear recurrences."""

from __future__ import annotations

import torch
from torch import Tensor


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


def parallel_scan_log(log_a: Tensor, log_b: Tensor, h0: Tensor, *, chunk: int = 256) -> Tensor:
    """Solves h_t = a_t h_{t-1} + b_t for all t at once, with a_t > 0 and b_t > 0 given as logs
    (Heinsen 2023, "Efficient parallelization of a ubiquitous sequential computation"):

        h_t = A_t h_0 + A_t Σ_{s<=t} b_s / A_s,   A_t = Π_{k<=t} a_k,

    with the sum done as `logcumsumexp` so nothing over- or underflows. h_0 enters linearly, so
    it may be zero or negative. log_a, log_b: (B, T, H); h0: (B, H) -> h: (B, T, H).

    log A_t falls linearly with t, and log h_t = log A_t + logcumsumexp(...) then subtracts two
    large numbers: in float32 over 4096 steps that costs about 2e-4 relative error. Scanning in
    chunks of `chunk` steps (each chunk starting from the last h of the one before) keeps both
    terms small, for a few sequential steps more.
    """
    outs = []
    for la, lb in zip(log_a.split(chunk, dim=1), log_b.split(chunk, dim=1)):
        log_A = la.cumsum(dim=1)                                               # (B, t, H)
        h = torch.exp(log_A + torch.logcumsumexp(lb - log_A, dim=1)) + torch.exp(log_A) * h0[:, None, :]
        outs.append(h)
        h0 = h[:, -1]
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
