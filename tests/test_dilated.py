"""Dilated layers (Chang et al. 2017) equal the layer run on each interleaved phase; residual stacks."""

import pytest
import torch

from rnnkit.cells import GRUCell, LSTMCell
from rnnkit.config import ModelConfig
from rnnkit.layers import Dilated, Recurrent, Stacked
from rnnkit.models.stack import build_rnn

F64 = torch.float64


def reference(layer, x, d, lengths=None):
    """Each phase j (steps j, j + d, ...) as its own sequence through the undilated layer."""
    B, T, _ = x.shape
    y = x.new_zeros(B, T, layer.output_size)
    for b in range(B):
        n = T if lengths is None else int(lengths[b])
        for j in range(min(d, n)):
            steps = torch.arange(j, n, d)
            y[b, steps] = layer(x[b:b + 1, steps])[0][0]
    return y


@pytest.mark.parametrize("d,T", [(1, 7), (2, 8), (3, 8), (4, 3), (12, 30)])
def test_dilated_equals_its_phases(d, T):
    torch.manual_seed(0)
    layer = Recurrent(LSTMCell(3, 5).double())
    x = torch.randn(2, T, 3, dtype=F64, requires_grad=True)
    y, _ = Dilated(layer, d)(x)
    assert y.shape == (2, T, 5)
    torch.testing.assert_close(y, reference(layer, x, d), rtol=1e-10, atol=1e-10)
    (g,) = torch.autograd.grad(y.square().sum(), x)
    (g_ref,) = torch.autograd.grad(reference(layer, x, d).square().sum(), x)
    torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-10)


def test_dilated_respects_lengths():
    torch.manual_seed(1)
    layer = Recurrent(GRUCell(2, 4).double())
    x = torch.randn(3, 9, 2, dtype=F64)
    lengths = torch.tensor([9, 4, 1])
    y, _ = Dilated(layer, 3)(x, lengths=lengths)
    torch.testing.assert_close(y, reference(layer, x, 3, lengths), rtol=1e-10, atol=1e-10)
    assert y[1, 4:].abs().max() == 0 and y[2, 1:].abs().max() == 0     # padding yields zeros


def test_dilation_is_causal():
    layer = Dilated(Recurrent(LSTMCell(1, 3).double()), 2)
    x = torch.randn(1, 10, 1, dtype=F64)
    x2 = x.clone()
    x2[0, 6:] += 1.0
    torch.testing.assert_close(layer(x)[0][:, :6], layer(x2)[0][:, :6])


def test_config_builds_a_dilated_residual_stack():
    cfg = ModelConfig(cell="lstm", hidden_size=6, num_layers=4, dilations=(1, 3, 6, 12), residual=True)
    rnn = build_rnn(cfg, 4)
    assert [getattr(layer, "dilation", 1) for layer in rnn.layers] == [1, 3, 6, 12]
    y, _ = rnn(torch.randn(2, 25, 4))
    assert y.shape == (2, 25, 6)
    # residual: layer i > 0 adds its input
    stack = Stacked([Recurrent(GRUCell(2, 2)), Recurrent(GRUCell(2, 2))], residual=True)
    x = torch.randn(1, 5, 2)
    h1, _ = stack.layers[0](x)
    h2, _ = stack.layers[1](h1)
    torch.testing.assert_close(stack(x)[0], h1 + h2)


def test_bad_dilation_settings():
    with pytest.raises(ValueError, match="one entry per layer"):
        ModelConfig(num_layers=2, dilations=(1, 3, 6))
    with pytest.raises(ValueError, match=">= 1"):
        ModelConfig(num_layers=2, dilations=(1, 0))
    with pytest.raises(ValueError, match="dilation must be >= 1"):
        Dilated(Recurrent(GRUCell(2, 2)), 0)
    with pytest.raises(ValueError, match="residual connections"):
        Stacked([Recurrent(GRUCell(2, 3)), Recurrent(GRUCell(3, 4))], residual=True)
