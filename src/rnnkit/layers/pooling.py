"""Poolings: a padded sequence of outputs (B, T, H) and lengths (B,) -> one vector (B, H) each.

All of them read only each sequence's valid steps, so padding never changes the result:

- `LastPooling`: the output at the last valid step. With `bidirectional=True` the second half of
  the features (the backward direction) is read at step 0, where that direction ends.
- `MaxPooling`, `MeanPooling`: over valid steps (Collobert et al. 2011; Conneau et al. 2017).
- `MeanLastPooling`: [mean, last] concatenated (B, 2H), the usual summary of an echo state
  network's states for classification (Lukoševičius 2012, 4.5).
- `ConcatPooling`: [last, max, mean] concatenated (B, 3H), ULMFiT's classifier input (Howard &
  Ruder 2018, 3.3): the last state alone may forget a signal a long text gave early on.
- `AttentionPooling`: the additive-attention weighted sum (Yang et al. 2016); its forward also
  returns the weights for inspection through `weights()`.

Each has `size` (the features it reads) and `output_size` (the features it returns).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import AdditiveAttention
from .scan import time_mask


def _lengths(y: Tensor, lengths: Tensor | None) -> Tensor:
    if lengths is None:
        return torch.full((y.size(0),), y.size(1), dtype=torch.long, device=y.device)
    if lengths.numel() and int(lengths.min()) < 1:
        raise ValueError("pooling needs every sequence to have at least one step (lengths >= 1)")
    return lengths.to(y.device)


class LastPooling(nn.Module):
    """y[b, lengths[b] - 1]; for a bidirectional stack, [forward last, backward first]."""

    def __init__(self, size: int, *, bidirectional: bool = False) -> None:
        super().__init__()
        if bidirectional and size % 2:
            raise ValueError(f"a bidirectional output has an even size, got {size}")
        self.size, self.output_size, self.bidirectional = size, size, bidirectional

    def forward(self, y: Tensor, lengths: Tensor | None = None) -> Tensor:
        rows = torch.arange(y.size(0), device=y.device)
        last = y[rows, _lengths(y, lengths) - 1]                                # (B, H)
        if not self.bidirectional:
            return last
        half = self.size // 2
        return torch.cat([last[:, :half], y[:, 0, half:]], dim=-1)             # backward ends at step 0


class MaxPooling(nn.Module):
    """Feature-wise maximum over valid steps."""

    def __init__(self, size: int, *, bidirectional: bool = False) -> None:
        super().__init__()
        self.size = self.output_size = size

    def forward(self, y: Tensor, lengths: Tensor | None = None) -> Tensor:
        mask = time_mask(_lengths(y, lengths), y.size(1))[:, :, None]            # (B, T, 1)
        return y.masked_fill(~mask, float("-inf")).amax(dim=1)                 # (B, H)


class MeanPooling(nn.Module):
    """Feature-wise mean over valid steps."""

    def __init__(self, size: int, *, bidirectional: bool = False) -> None:
        super().__init__()
        self.size = self.output_size = size

    def forward(self, y: Tensor, lengths: Tensor | None = None) -> Tensor:
        n = _lengths(y, lengths)
        mask = time_mask(n, y.size(1))[:, :, None].to(y.dtype)                # (B, T, 1)
        return (y * mask).sum(dim=1) / n[:, None].to(y.dtype)                  # (B, H)


class MeanLastPooling(nn.Module):
    """[mean over valid steps, last valid step] (B, 2H)."""

    def __init__(self, size: int, *, bidirectional: bool = False) -> None:
        super().__init__()
        self.size, self.output_size = size, 2 * size
        self.mean, self.last = MeanPooling(size), LastPooling(size, bidirectional=bidirectional)

    def forward(self, y: Tensor, lengths: Tensor | None = None) -> Tensor:
        return torch.cat([self.mean(y, lengths), self.last(y, lengths)], dim=-1)              # (B, 2H)


class ConcatPooling(nn.Module):
    """[last valid step, max, mean over valid steps] (B, 3H)."""

    def __init__(self, size: int, *, bidirectional: bool = False) -> None:
        super().__init__()
        self.size, self.output_size = size, 3 * size
        self.last = LastPooling(size, bidirectional=bidirectional)
        self.max, self.mean = MaxPooling(size), MeanPooling(size)

    def forward(self, y: Tensor, lengths: Tensor | None = None) -> Tensor:
        return torch.cat([self.last(y, lengths), self.max(y, lengths), self.mean(y, lengths)], dim=-1)   # (B, 3H)


class AttentionPooling(nn.Module):
    """sum_t a_t y_t with a = softmax(v^T tanh(W y_t + b)) over valid steps."""

    def __init__(self, size: int, *, attention_size: int = 0, bidirectional: bool = False) -> None:
        super().__init__()
        self.size = self.output_size = size
        self.attention = AdditiveAttention(size, attention_size or size)

    def forward(self, y: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.weighted(y, lengths)[0]

    def weighted(self, y: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(pooled (B, H), weights (B, T)), padding weighted exactly 0."""
        return self.attention(y, None, _lengths(y, lengths))


POOLINGS: dict[str, type[nn.Module]] = {
    "last": LastPooling,
    "max": MaxPooling,
    "mean": MeanPooling,
    "mean_last": MeanLastPooling,
    "concat": ConcatPooling,
    "attention": AttentionPooling,
}
FIXED_POOLINGS = ("last", "max", "mean", "mean_last", "concat")     # no parameters: what a ridge readout can pool with
