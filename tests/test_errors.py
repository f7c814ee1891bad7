"""Bad input gets a ValueError / TypeError that names what was expected."""

from __future__ import annotations

import pytest
import torch

from rnnkit import ElmanCell, LSTMCell, Recurrent, Stacked


@pytest.fixture
def layer() -> Recurrent:
    return Recurrent(LSTMCell(3, 4))


def test_wrong_rank(layer) -> None:
    with pytest.raises(ValueError, match=r"\(batch, time, 3\).*unsqueeze"):
        layer(torch.randn(5, 3))


def test_wrong_feature_size(layer) -> None:
    with pytest.raises(ValueError, match="expected 3 input features"):
        layer(torch.randn(2, 5, 7))


def test_integer_input(layer) -> None:
    with pytest.raises(TypeError, match="floating-point.*Embedding"):
        layer(torch.zeros(2, 5, 3, dtype=torch.long))


@pytest.mark.parametrize("lengths, error, match", [
    (torch.tensor([5, 6]), ValueError, r"lie in \[0, 5\]"),
    (torch.tensor([5, -1]), ValueError, r"lie in \[0, 5\]"),
    (torch.tensor([5.0, 2.0]), TypeError, "int64 or int32"),
    ([5, 2], TypeError, "int64 or int32"),
    (torch.tensor([5, 2, 1]), ValueError, r"shape \(2,\)"),
])
def test_bad_lengths(layer, lengths, error, match) -> None:
    with pytest.raises(error, match=match):
        layer(torch.randn(2, 5, 3), lengths=lengths)


def test_lengths_on_another_device(layer) -> None:
    lengths = torch.tensor([5, 2], device="meta")
    with pytest.raises(ValueError, match="lengths.to"):
        layer(torch.randn(2, 5, 3), lengths=lengths)


@pytest.mark.parametrize("state, match", [
    ((torch.zeros(2, 4),), "tuple of 2 tensor"),
    ((torch.zeros(2, 4), torch.zeros(3, 4)), r"state\[1\] must have shape \(2, 4\)"),
    (torch.zeros(2, 4), "tuple of 2"),
    ((torch.zeros(2, 4, dtype=torch.float64), torch.zeros(2, 4)), ".to\\(x\\)"),
])
def test_bad_state(layer, state, match) -> None:
    with pytest.raises(ValueError, match=match):
        layer(torch.randn(2, 5, 3), state)


def test_stacked_state_of_wrong_length() -> None:
    rnn = Stacked([Recurrent(LSTMCell(3, 4)), Recurrent(LSTMCell(4, 4))])
    with pytest.raises(ValueError, match="one entry per layer"):
        rnn(torch.randn(2, 5, 3), ((torch.zeros(2, 4), torch.zeros(2, 4)),))


def test_bad_nonlinearity_and_non_cell() -> None:
    with pytest.raises(ValueError, match="'tanh' or 'relu'"):
        ElmanCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="rnnkit Cell"):
        Recurrent(torch.nn.LSTMCell(3, 4))
