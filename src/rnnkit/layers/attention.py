"""Attention over a padded sequence of keys: additive (Bahdanau) and multiplicative (Luong).

    score_t = v^T tanh(W_k k_t + W_q q + b)          (Bahdanau, Cho & Bengio 2015, eq. 6)
    a = softmax(score) over each sequence's valid steps;   context = sum_t a_t k_t

Without a query (query_size = 0) the score is v^T tanh(W_k k_t + b): attention pooling with a
learned context vector (Yang et al. 2016, "Hierarchical attention networks"). Steps past `lengths`
get exactly zero weight, so padding changes neither the weights of valid steps nor the context.

    score_t = q^T k_t  (dot)   or   q^T W k_t  (general)     (Luong, Pham & Manning 2015, eq. 8)
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

    def project_keys(self, keys: Tensor) -> Tensor:
        """W_k k + b for every step: (B, T, K) -> (B, T, A); a decoder computes it once per
        source sentence and passes it to every step as `projected`."""
        return self.key_proj(keys)

    def forward(self, keys: Tensor, query: Tensor | None = None, lengths: Tensor | None = None, *,
                projected: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if keys.dim() != 3 or keys.size(2) != self.key_size:
            raise ValueError(f"expected keys of shape (batch, time, {self.key_size}), got {tuple(keys.shape)}")
        if (query is None) != (self.query_proj is None):
            need = f"a (batch, {self.query_size}) query" if self.query_size else "no query (query_size = 0)"
            raise ValueError(f"this attention takes {need}")
        hidden = self.key_proj(keys) if projected is None else projected     # (B, T, A)
        if query is not None:
            if query.shape != (keys.size(0), self.query_size):
                raise ValueError(f"expected a query of shape ({keys.size(0)}, {self.query_size}), "
                                 f"got {tuple(query.shape)}")
            hidden = hidden + self.query_proj(query)[:, None, :]              # (B, 1, A) broadcast over T
        scores = self.score(torch.tanh(hidden)).squeeze(-1)                  # (B, T)
        weights = masked_softmax(scores, lengths)                            # (B, T)
        context = torch.bmm(weights[:, None, :].to(keys.dtype), keys).squeeze(1)   # (B, K)
        return context, weights


class MultiplicativeAttention(nn.Module):
    """Luong attention: keys (B, T, K), queries (B, Q) or (B, S, Q), lengths (B,) -> (context
    (B, K) or (B, S, K), weights (B, T) or (B, S, T)). `general=False` is the dot score and
    needs Q == K; `general=True` learns W (Q x K)."""

    def __init__(self, key_size: int, query_size: int, *, general: bool = True) -> None:
        super().__init__()
        if min(key_size, query_size) < 1:
            raise ValueError(f"key_size and query_size must be >= 1, got {key_size}, {query_size}")
        if not general and key_size != query_size:
            raise ValueError(f"dot attention needs queries as wide as the keys, got {query_size} != {key_size}; "
                             "use the general score (learned W), or equal encoder output and decoder hidden sizes")
        self.key_size, self.query_size = key_size, query_size
        self.weight = nn.Linear(key_size, query_size, bias=False) if general else None

    def project_keys(self, keys: Tensor) -> Tensor:
        """W k_t for every step (the keys themselves for dot): (B, T, K) -> (B, T, Q)."""
        return keys if self.weight is None else self.weight(keys)

    def forward(self, keys: Tensor, query: Tensor, lengths: Tensor | None = None, *,
                projected: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if keys.dim() != 3 or keys.size(2) != self.key_size or query.size(-1) != self.query_size:
            raise ValueError(f"expected keys (batch, time, {self.key_size}) and queries (..., {self.query_size}), "
                             f"got {tuple(keys.shape)} and {tuple(query.shape)}")
        one = query.dim() == 2
        queries = query[:, None] if one else query                               # (B, S, Q)
        projected = self.project_keys(keys) if projected is None else projected  # (B, T, Q)
        scores = torch.bmm(queries, projected.transpose(1, 2))                  # (B, S, T)
        weights = masked_softmax(scores, lengths)                                # (B, S, T)
        context = torch.bmm(weights.to(keys.dtype), keys)                        # (B, S, K)
        return (context[:, 0], weights[:, 0]) if one else (context, weights)


def masked_softmax(scores: Tensor, lengths: Tensor | None) -> Tensor:
    """Softmax over the last dim of (B, T) or (B, S, T) scores restricted to the first lengths[b] steps;
    the rest get exactly 0. A sequence of length 0 gets all-zero weights (not NaN).

    >>> masked_softmax(torch.zeros(2, 3), torch.tensor([2, 0])).tolist()
    [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
    """
    if lengths is None:
        return torch.softmax(scores, dim=-1)
    mask = time_mask(lengths.to(scores.device), scores.size(-1))            # (B, T)
    mask = mask.view(mask.size(0), *[1] * (scores.dim() - 2), mask.size(1))  # (B, 1, T) for (B, S, T)
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores.masked_fill(~mask.any(-1, keepdim=True), 0.0), dim=-1)
    return weights.masked_fill(~mask, 0.0)
