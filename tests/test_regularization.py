"""Regularisers: p = 0 is the identity, evaluation is deterministic and equals the expectation,
masks are fixed over time where the method says so and differ between sequences; layer norm
matches a hand computation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import assert_close
from rnnkit import (
    GRUCell,
    LayerNormLSTMCell,
    LockedDropout,
    LSTMCell,
    Recurrent,
    RecurrentDropout,
    Stacked,
    Zoneout,
    weight_drop,
)
from rnnkit.layers.regularization import DropConnect


def _x(B: int = 3, T: int = 6, I: int = 3) -> torch.Tensor:
    return torch.randn(B, T, I, dtype=torch.float64)


@pytest.mark.parametrize("wrap", [
    lambda c: Zoneout(c, 0.0),
    lambda c: RecurrentDropout(c, 0.0),
    lambda c: weight_drop(c, 0.0),
])
def test_zero_probability_is_identity(wrap) -> None:
    cell = LSTMCell(3, 4).double()
    x = _x()
    y_plain, s_plain = Recurrent(cell)(x)
    y, s = Recurrent(wrap(cell)).train()(x)
    assert_close(y, y_plain)
    assert_close(s, s_plain)


def test_locked_dropout_zero_and_eval_are_identity() -> None:
    x = _x()
    assert torch.equal(LockedDropout(0.0).train()(x), x)
    assert torch.equal(LockedDropout(0.5).eval()(x), x)


def test_locked_dropout_mask_fixed_over_time_and_differs_between_sequences() -> None:
    x = torch.ones(64, 10, 8, dtype=torch.float64)
    y = LockedDropout(0.5).train()(x)
    assert (y == y[:, :1]).all()                       # same mask at every step
    assert not (y[0] == y[1:]).all()                   # sequences get different masks
    assert set(y.unique().tolist()) <= {0.0, 2.0}      # inverted dropout scaling


def test_zoneout_eval_is_deterministic_and_equals_expectation() -> None:
    cell = LSTMCell(3, 4).double()
    zone = Zoneout(cell, 0.3, p_c=0.6).eval()
    x = _x()
    y1, s1 = Recurrent(zone)(x)
    y2, s2 = Recurrent(zone)(x)
    assert torch.equal(y1, y2)
    state = cell.initial_state(x)
    for t in range(x.size(1)):                        # by hand: p * old + (1 - p) * new
        _, new = cell.step(x[:, t], state)
        state = (0.3 * state[0] + 0.7 * new[0], 0.6 * state[1] + 0.4 * new[1])
        assert_close(y1[:, t], state[0])
    assert_close(s1, state)


def test_zoneout_training_keeps_old_values_per_step() -> None:
    """Each unit either keeps its previous value or takes the new one; masks change over time."""
    cell = GRUCell(3, 4).double()
    zone = Zoneout(cell, 0.5).train()
    keep = zone.keep_old(cell.initial_state(_x(64)), 10)[0]
    assert keep.shape == (64, 10, 4) and set(keep.unique().tolist()) == {0.0, 1.0}
    assert not (keep == keep[:, :1]).all()
    x = _x()
    y, _ = Recurrent(zone)(x)
    y_ref, _ = Recurrent(cell)(x)
    state = cell.initial_state(x)
    for t in range(x.size(1)):
        _, (new,) = cell.step(x[:, t], state)
        kept, took = torch.isclose(y[:, t], state[0]), torch.isclose(y[:, t], new)
        assert (kept | took).all()
        state = (y[:, t],)
    assert not torch.equal(y, y_ref)


def test_recurrent_dropout_mask_fixed_over_time_and_differs_between_sequences() -> None:
    seen = []

    class Spy(LSTMCell):
        def reference_scan(self, x, state, mask=None, h_mask=None):
            seen.append(h_mask)
            return super().reference_scan(x, state, mask, h_mask)

        scan = reference_scan

    layer = Recurrent(RecurrentDropout(Spy(3, 4).double(), 0.5)).train()
    layer(_x(8))
    layer(_x(8))
    first, second = seen
    assert first.shape == (8, 4)                       # one (B, H) mask for the whole sequence
    assert not (first[0] == first[1:]).all()            # rows (sequences) get different masks
    assert not torch.equal(first, second)              # a new mask per sequence
    layer.eval()
    layer(_x(8))
    assert seen[-1] is None                            # identity in evaluation


def test_weight_drop_draws_one_mask_per_sequence() -> None:
    cell = weight_drop(LSTMCell(3, 4).double(), 0.5)
    calls = []
    drop = cell.parametrizations.weight_hh[0]
    drop.register_forward_hook(lambda module, args, out: calls.append(out.detach().clone()))
    layer = Recurrent(cell).train()
    layer(_x(T=12))
    assert len(calls) == 1                             # cached for the whole sequence
    layer(_x(T=12))
    assert len(calls) == 2 and not torch.equal(calls[0], calls[1])
    original = cell.parametrizations.weight_hh.original
    y, _ = layer(_x())
    y.sum().backward()
    assert original.grad is not None and (original.grad == 0).any()   # dropped weights get no gradient


def test_dropconnect_eval_is_identity() -> None:
    w = torch.randn(4, 4)
    assert torch.equal(DropConnect(0.5).eval()(w), w)


def test_stacked_dropout_between_layers_only_in_training() -> None:
    rnn = Stacked([Recurrent(LSTMCell(3, 4)), Recurrent(LSTMCell(4, 4))], dropout=0.5).double()
    x = _x()
    assert torch.equal(rnn.eval()(x)[0], rnn(x)[0])
    assert not torch.equal(rnn.train()(x)[0], rnn.eval()(x)[0])


def test_layer_norm_lstm_matches_hand_computation() -> None:
    cell = LayerNormLSTMCell(3, 4).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.normal_()
    x, h, c = torch.randn(2, 3).double(), torch.randn(2, 4).double(), torch.randn(2, 4).double()

    def ln(v, gain, shift, eps=1e-5):
        mean, var = v.mean(-1, keepdim=True), v.var(-1, unbiased=False, keepdim=True)
        out = (v - mean) / torch.sqrt(var + eps) * gain
        return out if shift is None else out + shift

    gates = ln(x @ cell.weight_ih.T, cell.ln_ih.weight, cell.ln_ih.bias) + \
        ln(h @ cell.weight_hh.T, cell.ln_hh.weight, None)
    i, f, g, o = gates.chunk(4, -1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(ln(c_new, cell.ln_c.weight, cell.ln_c.bias))
    y, (h_out, c_out) = cell.step(x, (h, c))
    assert_close((h_out, c_out), (h_new, c_new))
    assert_close(F.layer_norm(c_new, (4,)), ln(c_new, 1.0, 0.0))


@pytest.mark.parametrize("make", [
    lambda: Zoneout(LSTMCell(2, 3), 1.0), lambda: Zoneout(LSTMCell(2, 3), -0.1),
    lambda: RecurrentDropout(LSTMCell(2, 3), 1.5), lambda: LockedDropout(1.0),
    lambda: weight_drop(LSTMCell(2, 3), 2.0), lambda: Stacked([Recurrent(LSTMCell(2, 3))], dropout=-1),
])
def test_probabilities_outside_unit_interval_are_rejected(make) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        make()


def test_zoneout_outside_recurrent_dropout_is_refused_with_the_fix() -> None:
    with pytest.raises(TypeError, match="RecurrentDropout\\(Zoneout"):
        Zoneout(RecurrentDropout(LSTMCell(2, 3), 0.2), 0.1)
