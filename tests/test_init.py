"""Initialisers by name: torch's default, and Xavier + orthogonal + forget-gate bias."""

from __future__ import annotations

import pytest
import torch

from rnnkit import INITIALIZERS, ElmanCell, GRUCell, LayerNormLSTMCell, LSTMCell, MinGRUCell


@pytest.mark.parametrize("make", [lambda: LSTMCell(5, 8), lambda: GRUCell(5, 8), lambda: ElmanCell(5, 8)])
def test_orthogonal_blocks_and_biases(make) -> None:
    cell = make()
    INITIALIZERS["orthogonal"](cell)
    for block in cell.weight_hh.detach().chunk(cell.gates, 0):                      # (H, H) each
        torch.testing.assert_close(block @ block.T, torch.eye(8), atol=1e-5, rtol=0)
    limit = (6 / (5 + 8)) ** 0.5                                                      # Glorot uniform bound
    assert cell.weight_ih.abs().max() <= limit
    expected = torch.zeros_like(cell.bias_ih)
    if isinstance(cell, LSTMCell):
        expected[8:16] = 1.0                                                          # forget gate
    assert torch.equal(cell.bias_ih.detach(), expected) and (cell.bias_hh == 0).all()


def test_forget_bias_for_layer_norm_lstm_and_torch_default() -> None:
    cell = LayerNormLSTMCell(3, 4)
    INITIALIZERS["orthogonal"](cell, forget_bias=2.0)
    assert (cell.ln_ih.bias[4:8] == 2.0).all() and (cell.ln_ih.bias[:4] == 0).all()
    lstm = LSTMCell(3, 4)
    INITIALIZERS["torch"](lstm)
    assert lstm.weight_hh.abs().max() <= 0.5                                          # U(-1/sqrt(H), 1/sqrt(H))


def test_mingru_has_no_recurrent_weights_to_orthogonalise() -> None:
    cell = MinGRUCell(3, 4)
    INITIALIZERS["orthogonal"](cell)
    assert (cell.bias_ih == 0).all()


def test_forget_bias_without_bias_is_an_error() -> None:
    with pytest.raises(ValueError, match="bias=True"):
        INITIALIZERS["orthogonal"](LSTMCell(3, 4, bias=False))


def test_initialisers_leave_a_reservoirs_fixed_weights_alone() -> None:
    from rnnkit.cells import ReservoirCell

    cell = ReservoirCell(3, 20, seed=0)
    before = {k: v.clone() for k, v in cell.state_dict().items()}
    for initialize in INITIALIZERS.values():
        initialize(cell)
    assert all(torch.equal(before[k], v) for k, v in cell.state_dict().items())
