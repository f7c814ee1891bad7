"""Conformance suite over every cell in CELLS: the same invariants for each."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import assert_close
from rnnkit import CELLS, Cell, MinGRUCell, Recurrent, RecurrentDropout, Zoneout


def make(name: str, I: int = 3, H: int = 5) -> Cell:
    return CELLS[name](I, H).double()


class _Reference(nn.Module):
    """Runs a cell's readable reference loop (for gradcheck through functional_call)."""

    def __init__(self, cell: Cell) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x, state):
        torch.manual_seed(1)              # wrappers draw masks; gradcheck needs the same ones
        return self.cell.reference_scan(x, state)


def _gradcheck(cell: Cell, x: torch.Tensor) -> None:
    module = _Reference(cell)
    named = list(module.named_parameters())               # a reservoir has none: buffers only
    names, params = [n for n, _ in named], [p for _, p in named]
    state = cell.initial_state(x)
    state = tuple(torch.randn_like(s) for s in state)

    def fn(x, *args):
        n = len(state)
        y, final = torch.func.functional_call(module, dict(zip(names, args[n:])), (x, tuple(args[:n])))
        return (y, *final)

    inputs = (x.requires_grad_(), *(s.requires_grad_() for s in state),
              *(p.detach().clone().requires_grad_() for p in params))
    assert torch.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_gradcheck_reference_loop(name: str) -> None:
    """BPTT through the reference loop is right: autograd equals finite differences."""
    _gradcheck(make(name, 2, 3), torch.randn(2, 4, 2, dtype=torch.float64))


@pytest.mark.parametrize("name", ["lstm", "gru", "elman", "layernorm_lstm"])
def test_gradcheck_regularised_reference(name: str) -> None:
    cell = RecurrentDropout(Zoneout(make(name, 2, 3), 0.3), 0.4)
    _gradcheck(cell, torch.randn(2, 4, 2, dtype=torch.float64))


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("with_mask", [False, True])
def test_fast_path_equals_reference(name: str, with_mask: bool) -> None:
    cell = make(name)
    x = torch.randn(3, 7, 3, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(3, n, dtype=torch.float64, requires_grad=True) for n in cell.state_size)
    mask = torch.arange(7)[None, :] < torch.tensor([7, 3, 0])[:, None] if with_mask else None
    fast = cell.scan(x, state, mask)
    ref = cell.reference_scan(x, state, mask)
    assert_close(fast, ref)
    weights = [torch.randn_like(fast[0])] + [torch.randn_like(s) for s in fast[1]]
    inputs = [x, *state, *cell.parameters()]
    g_fast = torch.autograd.grad([fast[0], *fast[1]], inputs, weights)
    g_ref = torch.autograd.grad([ref[0], *ref[1]], inputs, weights)
    assert_close(g_fast, g_ref)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_padding_does_not_change_results(name: str) -> None:
    layer = Recurrent(make(name))
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    y, state = layer(x, lengths=torch.tensor([6, 4]))
    y_short, state_short = layer(x[1:, :4])
    assert_close(y[1, :4], y_short[0])
    assert_close(tuple(s[1] for s in state), tuple(s[0] for s in state_short))
    assert (y[1, 4:] == 0).all()


@pytest.mark.parametrize("name", sorted(CELLS))
def test_chunked_equals_full(name: str) -> None:
    """Running in chunks and carrying the state equals one run: what makes truncated BPTT right."""
    layer = Recurrent(make(name))
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    y_full, s_full = layer(x)
    y1, s = layer(x[:, :3])
    y2, s = layer(x[:, 3:], s)
    assert_close(torch.cat([y1, y2], dim=1), y_full)
    assert_close(s, s_full)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_step_shapes_and_state_layout(name: str) -> None:
    cell = make(name)
    x = torch.randn(4, 3, dtype=torch.float64)
    state = cell.initial_state(x)
    assert len(state) == len(cell.state_size) and all(s.shape == (4, n) for s, n in zip(state, cell.state_size))
    y, new = cell.step(x, state)
    assert y.shape == (4, 5)
    assert_close(y, new[0])          # h comes first and is the output


def test_mingru_scan_equals_step_loop_long(kernel_backend: str) -> None:
    """The CPU scan (native or Python loops) equals the sequential step over a long sequence,
    from a nonzero (and negative) initial state, padded or not, gradients included."""
    cell = MinGRUCell(4, 6).double()
    x = torch.randn(3, 300, 4, dtype=torch.float64)
    h0 = (torch.randn(3, 6, dtype=torch.float64),)
    assert_close(cell.scan(x, h0), cell.reference_scan(x, h0), atol=1e-9, rtol=1e-9)
    mask = torch.arange(300)[None] < torch.tensor([300, 123, 0])[:, None]
    x.requires_grad_()
    outs = [cell.scan(x, h0, mask), cell.reference_scan(x, h0, mask)]
    assert_close(outs[0], outs[1], atol=1e-9, rtol=1e-9)
    grads = [torch.autograd.grad((y * x[..., :1]).sum() + s[0].sum(), [x, *cell.parameters()]) for y, s in outs]
    assert_close(grads[0], grads[1], atol=1e-9, rtol=1e-9)


def test_empty_sequence() -> None:
    for name in sorted(CELLS):
        y, state = Recurrent(make(name))(torch.randn(2, 0, 3, dtype=torch.float64))
        assert y.shape == (2, 0, 5) and all((s == 0).all() for s in state)


def test_mingru_scan_float32_long_sequence(kernel_backend: str) -> None:
    """The chunked log-space scan stays accurate in float32 over 4096 steps."""
    cell = MinGRUCell(8, 16)
    x = torch.randn(2, 4096, 8)
    state = cell.initial_state(x)
    torch.testing.assert_close(cell.scan(x, state)[0], cell.reference_scan(x, state)[0], atol=1e-4, rtol=1e-4)


def test_linear_recurrence_gradcheck() -> None:
    from rnnkit.kernels.linear_scan import linear_recurrence

    a = torch.rand(2, 5, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(linear_recurrence, (a, b, h0))


@pytest.mark.parametrize("with_mask", [False, True])
def test_mingru_log_space_scan_equals_linear_scan(with_mask: bool) -> None:
    """The GPU path (parallel log-space scan) equals the CPU path, outputs and gradients."""
    from rnnkit.cells.mingru import _g
    from rnnkit.kernels.linear_scan import linear_recurrence

    k = torch.randn(3, 300, 4, dtype=torch.float64, requires_grad=True)
    u = torch.randn(3, 300, 4, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 4, dtype=torch.float64)
    mask = torch.arange(300)[None, :] < torch.tensor([300, 120, 0])[:, None] if with_mask else None
    log_space = MinGRUCell._log_space_scan(k, u, h0, mask)
    z = torch.sigmoid(k)
    a, b = 1 - z, z * _g(u)
    if mask is not None:
        a, b = torch.where(mask[..., None], a, 1.0), torch.where(mask[..., None], b, 0.0)
    linear = linear_recurrence(a, b, h0)
    assert_close(log_space, linear, atol=1e-9, rtol=1e-9)
    w = torch.randn_like(linear)
    assert_close(torch.autograd.grad(log_space, (k, u), w), torch.autograd.grad(linear, (k, u), w),
                 atol=1e-8, rtol=1e-8)
