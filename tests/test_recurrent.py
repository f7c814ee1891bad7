"""The runner and its compositions: reverse, bidirectional, stacks and readouts with lengths."""

from __future__ import annotations

import pytest
import torch

from conftest import assert_close
from rnnkit import CELLS, Bidirectional, ElmanCell, LSTMCell, Readout, Recurrent, Stacked
from rnnkit.layers import flip_padded, time_mask


@pytest.mark.parametrize("name", sorted(CELLS))
def test_reverse_with_lengths_equals_running_each_reversed_sequence(name: str) -> None:
    layer = Recurrent(CELLS[name](3, 4).double(), reverse=True)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    y, state = layer(x, lengths=lengths)
    forward = Recurrent(layer.cell)
    for b, n in enumerate(lengths.tolist()):
        y_b, s_b = forward(x[b:b + 1, :n].flip(1))
        assert_close(y[b, :n], y_b[0].flip(0))
        assert (y[b, n:] == 0).all()
        assert_close(tuple(s[b] for s in state), tuple(s[0] for s in s_b))


def test_bidirectional_with_lengths() -> None:
    bi = Bidirectional.of(lambda: LSTMCell(3, 4)).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    y, (fw, bw) = bi(x, lengths=torch.tensor([5, 3]))
    assert y.shape == (2, 5, 8)
    y_short, (fw_short, bw_short) = bi(x[1:, :3])
    assert_close(y[1, :3], y_short[0])
    assert_close(tuple(s[1] for s in bw), tuple(s[0] for s in bw_short))
    assert (y[1, 3:] == 0).all()


def test_bidirectional_requires_directions() -> None:
    with pytest.raises(ValueError, match="reverse"):
        Bidirectional(Recurrent(LSTMCell(2, 3)), Recurrent(LSTMCell(2, 3)))


def test_readout_is_the_output_layer() -> None:
    """y_t = W_ho h_t + b' at every step, zero on padding."""
    cell = ElmanCell(3, 4).double()
    readout = Readout(4, 2).double()
    layer = Recurrent(cell, readout=readout)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    y, _ = layer(x, lengths=torch.tensor([5, 2]))
    h, _ = Recurrent(cell)(x, lengths=torch.tensor([5, 2]))
    assert_close(y[0], h[0] @ readout.linear.weight.T + readout.linear.bias)
    assert (y[1, 2:] == 0).all() and layer.output_size == 2


def test_stacked_state_is_per_layer_and_chunks_compose() -> None:
    rnn = Stacked([Recurrent(LSTMCell(3, 4)), Recurrent(LSTMCell(4, 5))]).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    y, state = rnn(x)
    assert len(state) == 2 and state[1][0].shape == (2, 5)
    y1, s = rnn(x[:, :2])
    y2, s = rnn(x[:, 2:], s)
    assert_close(torch.cat([y1, y2], 1), y)
    assert_close(s, state)


def test_stacked_checks_sizes() -> None:
    with pytest.raises(ValueError, match="do not chain"):
        Stacked([Recurrent(LSTMCell(3, 4)), Recurrent(LSTMCell(5, 5))])


def test_flip_padded_and_time_mask() -> None:
    x = torch.tensor([[1, 2, 3], [4, 5, 0]])
    assert flip_padded(x, torch.tensor([3, 2])).tolist() == [[3, 2, 1], [5, 4, 0]]
    assert time_mask(torch.tensor([2, 0]), 3).tolist() == [[True, True, False], [False, False, False]]
