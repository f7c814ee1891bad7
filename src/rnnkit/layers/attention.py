"""Additive (Bahdanau) attention over a padded sequence of keys.

    score_t = v^T tanh(W_k k_t + W_q q + b)          (Bahdanau, Cho & Bengio 2015, eq. 6)
    a = softmax(score) over each sequence's valid steps;   context = sum_t a_t k_t

Without a query (query_size = 0) the score is v^T tanh(W_k k_t + b): attention pooling with a
learned context vector (Yang et al. 2016, "Hierarchical attention networks"). Steps past `lengths`
get exactly zero weight, so padding changes neither the weights of valid steps nor the context.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .scan import time_mask


class AdditiveAttention(nn.Module):
    """keys (B, T, K), query (B, Q) or None, lengths (B,) -> (context (B, K), weights (B, T))."""

    def __init__(self, key_size: int, attention_size: int, *, query_size: int = 0) -> None:
        super().__init__()
        if min(key_size, attention_size) < 1 or query_size < 0:
            raise ValueError(f"key_size and attention_size must be >= 1 and query_size >= 0, got "
                             f"{key_size}, {attention_size}, {query_size}")
        self.key_size, self.attention_size, self.query_size = key_size, attention_size, query_size
        self.key_proj = nn.Linear(key_size, attention_size)                 # W_k, b
        self.query_proj = nn.Linear(query_size, attention_size, bias=False) if query_size else None
        self.score = nn.Linear(attention_size, 1, bias=False)               # v

    def forward(self, keys: Tensor, query: Tensor | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if keys.dim() != 3 or keys.size(2) != self.key_size:
            raise ValueError(f"expected keys of shape (batch, time, {self.key_size}), got {tuple(keys.shape)}")
        if (query is None) != (self.query_proj is None):
            need = f"a (batch, {self.query_size}) query" if self.query_size else "no query (query_size = 0)"
            raise ValueError(f"this attention takes {need}")
        hidden = self.key_proj(keys)                                         # (B, T, A)
        if query is not None:
            if query.shape != (keys.size(0), self.query_size):
                raise ValueError(f"expected a query of shape ({keys.size(0)}, {self.query_size}), "
                                 f"got {tuple(query.shape)}")
            hidden = hidden + self.query_proj(query)[:, None, :]              # (B, 1, A) broadcast over T
        scores = self.score(torch.tanh(hidden)).squeeze(-1)                  # (B, T)
        weights = masked_softmax(scores, lengths)                            # (B, T)
        context = torch.bmm(weights[:, None, :].to(keys.dtype), keys).squeeze(1)   # (B, K)
        return context, weights


def masked_softmax(scores: Tensor, lengths: Tensor | None) -> Tensor:
    """Softmax over the last dim of (B, T) scores restricted to the first lengths[b] steps;
    the rest get exactly 0. A sequence of length 0 gets all-zero weights (not NaN).

    >>> masked_softmax(torch.zeros(2, 3), torch.tensor([2, 0])).tolist()
    [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
    """
    if lengths is None:
        return torch.softmax(scores, dim=-1)
    mask = time_mask(lengths.to(scores.device), scores.size(-1))            # (B, T)
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores.masked_fill(~mask.any(-1, keepdim=True), 0.0), dim=-1)
    return weights.masked_fill(~mask, 0.0)
