"""CTCModel: shapes, output lengths, padding invariance and chunked (streamed) == whole input."""

from __future__ import annotations

import pytest
import torch

from rnnkit.config import ModelConfig
from rnnkit.models.ctc import ClippedReLU, ConvFront, CTCModel, DenseFront
from rnnkit.models.stack import build_rnn


def model(front: str = "dense", *, bidirectional: bool = False, cell: str = "gru") -> CTCModel:
    made = DenseFront(6, [10, 10]) if front == "dense" else ConvFront(6, 10, kernel=4, stride=2)
    rnn = build_rnn(ModelConfig(cell=cell, hidden_size=7, num_layers=2, bidirectional=bidirectional), 10)
    return CTCModel(made, rnn, 5, input_size=6, feature_mean=torch.full((6,), 0.5),
                    feature_std=torch.full((6,), 2.0)).double().eval()


def test_clipped_relu_is_min_max_0_20():
    z = torch.tensor([-3.0, 0.5, 19.0, 25.0])
    assert ClippedReLU()(z).tolist() == [0.0, 0.5, 19.0, 20.0]
    with pytest.raises(ValueError, match="clip must be > 0"):
        ClippedReLU(0.0)


@pytest.mark.parametrize("front,frames", [("dense", 9), ("conv", 5)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_log_probabilities_per_output_frame(front, frames, bidirectional):
    m = model(front, bidirectional=bidirectional)
    log_probs, state = m(torch.randn(3, 9, 6, dtype=torch.float64), lengths=torch.tensor([9, 4, 1]))
    assert log_probs.shape == (3, frames, 5)                                   # (B, T', C)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, frames, dtype=torch.float64))
    assert m.output_lengths(torch.tensor([9, 4, 1])).tolist() == ([9, 4, 1] if front == "dense" else [5, 2, 1])
    assert m.streamable is not bidirectional
    assert len(state[1]) == 2                                                  # one state per layer


@pytest.mark.parametrize("front", ["dense", "conv"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_change_valid_frames(front, bidirectional):
    m = model(front, bidirectional=bidirectional)
    x = torch.randn(2, 8, 6, dtype=torch.float64)
    padded, _ = m(x, lengths=torch.tensor([8, 5]))
    alone, _ = m(x[1:, :5])
    n = int(m.output_lengths(torch.tensor([5])))
    torch.testing.assert_close(padded[1, :n], alone[0])


@pytest.mark.parametrize("front", ["dense", "conv"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_chunks_with_carried_state_equal_the_whole_input(front, cell):
    m = model(front, cell=cell)
    x = torch.randn(1, 11, 6, dtype=torch.float64)
    whole, _ = m(x)
    parts, state = [], None
    for start in range(0, 11, 4):                                              # chunks of 4, 4, 3 frames
        y, state = m(x[:, start:start + 4], state)
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole)


def test_conv_front_sees_only_the_past():
    front = ConvFront(3, 4, kernel=3, stride=1).double()
    x = torch.randn(1, 6, 3, dtype=torch.float64)
    changed = x.clone()
    changed[:, 4:] += 1.0
    torch.testing.assert_close(front(x)[0][:, :4], front(changed)[0][:, :4])


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="kernel >= 1 and 1 <= stride <= kernel"):
        ConvFront(3, 4, kernel=2, stride=3)
    rnn = build_rnn(ModelConfig(cell="gru", hidden_size=4), 9)
    with pytest.raises(ValueError, match="front outputs 10 features but the rnn expects 9"):
        CTCModel(DenseFront(6, [10]), rnn, 5, input_size=6)
    with pytest.raises(ValueError, match="blank and at least one character"):
        CTCModel(DenseFront(6, [9]), rnn, 1, input_size=6)
    with pytest.raises(ValueError, match=r"expected \(batch, time, 6\) features"):
        model()(torch.randn(2, 5, 4, dtype=torch.float64))
