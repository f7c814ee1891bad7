"""AdditiveAttention: padding gets exactly zero weight and changes nothing; the query is optional."""

from __future__ import annotations

import pytest
import torch

from rnnkit.layers.attention import AdditiveAttention, masked_softmax


def test_padding_gets_exactly_zero_weight_and_changes_nothing():
    attn = AdditiveAttention(4, 6, query_size=3).double()
    keys = torch.randn(2, 5, 4, dtype=torch.float64)
    query = torch.randn(2, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 2])
    context, weights = attn(keys, query, lengths)
    assert (weights[1, 2:] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, dtype=torch.float64))
    padded = torch.cat([keys, 1e6 * torch.randn(2, 30, 4, dtype=torch.float64)], dim=1)   # huge garbage padding
    context_p, weights_p = attn(padded, query, lengths)
    torch.testing.assert_close(context_p, context)
    torch.testing.assert_close(weights_p[:, :5], weights)
    assert (weights_p[:, 5:] == 0).all()
    alone, w_alone = attn(keys[1:, :2], query[1:])                         # the short one, unpadded
    torch.testing.assert_close(context[1:], alone)
    torch.testing.assert_close(weights[1:, :2], w_alone)


def test_matches_the_formula():
    attn = AdditiveAttention(3, 4, query_size=2).double()
    k, q = torch.randn(1, 3, 3, dtype=torch.float64), torch.randn(1, 2, dtype=torch.float64)
    scores = torch.stack([attn.score.weight[0] @ torch.tanh(attn.key_proj.weight @ k[0, t] + attn.key_proj.bias
                                                            + attn.query_proj.weight @ q[0]) for t in range(3)])
    a = torch.softmax(scores, 0)
    context, weights = attn(k, q)
    torch.testing.assert_close(weights[0], a)
    torch.testing.assert_close(context[0], (a[:, None] * k[0]).sum(0))


def test_without_query_and_gradients_ignore_padding():
    attn = AdditiveAttention(4, 5).double()
    keys = torch.randn(2, 6, 4, dtype=torch.float64, requires_grad=True)
    context, _ = attn(keys, lengths=torch.tensor([6, 3]))
    context.sum().backward()
    assert (keys.grad[1, 3:] == 0).all() and keys.grad[1, :3].abs().sum() > 0


def test_length_zero_gives_zero_weights_not_nan():
    w = masked_softmax(torch.randn(2, 4), torch.tensor([0, 4]))
    assert (w[0] == 0).all() and torch.isfinite(w).all()


def test_errors():
    attn = AdditiveAttention(4, 5, query_size=2)
    with pytest.raises(ValueError, match="query"):
        attn(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="keys of shape"):
        attn(torch.randn(2, 3, 5), torch.randn(2, 2))
    with pytest.raises(ValueError, match="no query"):
        AdditiveAttention(4, 5)(torch.randn(2, 3, 4), torch.randn(2, 2))
