"""Poolings read only valid steps: heavy padding with garbage changes nothing."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cells import GRUCell
from rnnkit.layers import Bidirectional, Recurrent, Stacked
from rnnkit.layers.pooling import POOLINGS, AttentionPooling, LastPooling, MaxPooling, MeanLastPooling, MeanPooling


@pytest.mark.parametrize("name", sorted(POOLINGS))
def test_heavy_padding_does_not_change_the_output(name):
    pool = POOLINGS[name](6).double()
    y = torch.randn(3, 4, 6, dtype=torch.float64)
    lengths = torch.tensor([4, 1, 3])
    out = pool(y, lengths)
    garbage = 1e3 * torch.randn(3, 50, 6, dtype=torch.float64)
    y_pad = torch.cat([y, garbage], dim=1)
    for b, n in enumerate(lengths):
        y_pad[b, n:] = 1e3 * torch.randn(y_pad.size(1) - n, 6, dtype=torch.float64)
    torch.testing.assert_close(pool(y_pad, lengths), out)
    for b, n in enumerate(lengths.tolist()):                                  # each one alone, unpadded
        torch.testing.assert_close(pool(y[b:b + 1, :n])[0], out[b])


def test_values_by_hand():
    y = torch.tensor([[[1.0, -1.0], [3.0, 5.0], [100.0, 100.0]]])
    n = torch.tensor([2])
    assert LastPooling(2)(y, n).tolist() == [[3.0, 5.0]]
    assert MaxPooling(2)(y, n).tolist() == [[3.0, 5.0]]
    assert MeanPooling(2)(y, n).tolist() == [[2.0, 2.0]]
    assert LastPooling(2, bidirectional=True)(y, n).tolist() == [[3.0, -1.0]]
    assert MeanLastPooling(2)(y, n).tolist() == [[2.0, 2.0, 3.0, 5.0]] and MeanLastPooling(2).output_size == 4


def test_bidirectional_last_is_each_directions_final_state():
    layer = Bidirectional.of(lambda: GRUCell(3, 4)).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 2])
    y, (fw, bw) = Stacked([layer])(x, lengths=lengths)[0], layer(x, lengths=lengths)[1]
    pooled = LastPooling(8, bidirectional=True)(y, lengths)
    torch.testing.assert_close(pooled, torch.cat([fw[0], bw[0]], dim=-1))


def test_attention_weights_zero_on_padding_and_sum_to_one():
    pool = AttentionPooling(4, attention_size=3)
    _, w = pool.weighted(torch.randn(2, 6, 4), torch.tensor([6, 2]))
    assert (w[1, 2:] == 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(2))


def test_empty_sequence_is_an_error():
    with pytest.raises(ValueError, match="at least one step"):
        MeanPooling(2)(torch.randn(2, 3, 2), torch.tensor([0, 3]))


def test_recurrent_then_pool_is_padding_invariant():
    rnn = Recurrent(GRUCell(3, 4)).double()
    x = torch.randn(1, 3, 3, dtype=torch.float64)
    x_pad = torch.cat([x, torch.randn(1, 20, 3, dtype=torch.float64)], dim=1)
    for name in POOLINGS:
        pool = POOLINGS[name](4).double()
        torch.testing.assert_close(pool(rnn(x_pad, lengths=torch.tensor([3]))[0], torch.tensor([3])),
                                   pool(rnn(x)[0]))
