"""The compiled linear recurrences (`kernels.linear_scan_native`) against the torch-op ones:
`NativeLinearRecurrence` against `LinearRecurrence`, and the fused `NativeMinGRUScan` against
`MinGRUCell.scan`'s CPU path (gates -> a, b -> `LinearRecurrence`) and its step-by-step loop."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.cells import MinGRUCell
from rnnkit.cells.mingru import _g
from rnnkit.kernels.linear_scan import LinearRecurrence
from rnnkit.kernels.linear_scan_native import NativeLinearRecurrence, NativeMinGRUScan, available, smoke

pytestmark = pytest.mark.skipif(not available(), reason="needs numba")

F64 = torch.float64
SHAPES = [(1, 1, 1), (2, 5, 3), (3, 7, 8), (4, 6, 17), (1, 9, 33), (5, 3, 64)]   # (B, T, H): tails and SIMD bodies


def grads(outputs, leaves):
    """Outputs and the gradients of a fixed random projection of them w.r.t. leaves."""
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, dtype=o.dtype, generator=g)).sum() for o in outputs)
    return list(outputs) + list(torch.autograd.grad(loss, leaves))


def run_recurrence(fn, a, b, h0):
    leaves = [t.detach().clone().requires_grad_() for t in (a, b, h0)]
    return grads([fn.apply(*leaves)], leaves)


def recurrence_inputs(B, T, H, dt):
    """a in (0, 1) as minGRU's 1 - z is, b and h0 of either sign."""
    return torch.rand(B, T, H, dtype=dt), torch.randn(B, T, H, dtype=dt), torch.randn(B, H, dtype=dt)


def torch_mingru(gates: torch.Tensor, h0: torch.Tensor, mask: torch.Tensor | None):
    """`MinGRUCell.scan`'s CPU path from the gates on."""
    k, u = gates.chunk(2, dim=-1)
    z = torch.sigmoid(k)
    a, b = 1 - z, z * _g(u)
    if mask is not None:
        keep = mask[:, :, None]
        a, b = torch.where(keep, a, torch.ones_like(a)), torch.where(keep, b, torch.zeros_like(b))
    h = LinearRecurrence.apply(a, b, h0)
    final = h0 if h.size(1) == 0 else h[:, -1]
    return (h if mask is None else h * mask[:, :, None].to(h.dtype)), final


def run_mingru(fn, gates, h0, mask):
    leaves = [t.detach().clone().requires_grad_() for t in (gates, h0)]
    return grads(fn(*leaves, mask), leaves)


def make_mask(B, T, padding):
    if padding == "lengths":
        return torch.arange(T)[None] < torch.randint(0, T + 1, (B,))[:, None]                # (B, T)
    if padding == "holes":
        return torch.rand(B, T) < 0.6
    return None


def test_recurrence_equals_torch_loop():
    for seed, (B, T, H) in enumerate(SHAPES):
        torch.manual_seed(seed)
        args = recurrence_inputs(B, T, H, F64)
        got, want = run_recurrence(NativeLinearRecurrence, *args), run_recurrence(LinearRecurrence, *args)
        for name, g, w in zip(["h", "d_a", "d_b", "d_h0"], got, want, strict=True):
            torch.testing.assert_close(g, w, rtol=0, atol=1e-10, msg=lambda m, n=name, s=(B, T, H): f"{n}, {s}: {m}")


@pytest.mark.parametrize("padding", [None, "lengths", "holes"])
def test_mingru_equals_torch_path(padding):
    for seed, (B, T, H) in enumerate(SHAPES):
        torch.manual_seed(seed)
        gates, h0 = torch.randn(B, T, 2 * H, dtype=F64) * 2, torch.randn(B, H, dtype=F64)
        mask = make_mask(B, T, padding)
        got, want = run_mingru(NativeMinGRUScan.apply, gates, h0, mask), run_mingru(torch_mingru, gates, h0, mask)
        for name, g, w in zip(["y", "h_T", "d_gates", "d_h0"], got, want, strict=True):
            torch.testing.assert_close(g, w, rtol=0, atol=1e-10, msg=lambda m, n=name, s=(B, T, H): f"{n}, {s}: {m}")


@pytest.mark.parametrize("padding", [None, "holes"])
def test_mingru_equals_cell_step_loop(padding):
    """Through the cell's parameters: the fused scan on F.linear's gates against `reference_scan`,
    the readable loop of `MinGRUCell.step`, with padding semantics of its own."""
    cell = MinGRUCell(3, 6).double()
    x, h0, mask = torch.randn(4, 9, 3, dtype=F64), torch.randn(4, 6, dtype=F64), make_mask(4, 9, padding)
    params = [cell.weight_ih, cell.bias_ih]
    y, last = NativeMinGRUScan.apply(F.linear(x, *params), h0, mask)
    y_ref, (last_ref,) = cell.reference_scan(x, (h0,), mask)
    got, want = grads([y, last], params), grads([y_ref, last_ref], params)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-10)


def test_float32_agrees():
    torch.manual_seed(0)
    B, T, H = 4, 300, 40
    args = recurrence_inputs(B, T, H, torch.float32)
    both = run_recurrence(NativeLinearRecurrence, *args), run_recurrence(LinearRecurrence, *args)
    for g, w in zip(*both, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
    gates, h0, mask = torch.randn(B, T, 2 * H), torch.randn(B, H), make_mask(B, T, "lengths")
    got, want = run_mingru(NativeMinGRUScan.apply, gates, h0, mask), run_mingru(torch_mingru, gates, h0, mask)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding", [None, "holes"])
def test_gradcheck(padding):
    torch.manual_seed(0)
    args = [t.requires_grad_() for t in recurrence_inputs(2, 4, 3, F64)]
    assert torch.autograd.gradcheck(NativeLinearRecurrence.apply, args)
    gates, h0 = (torch.randn(2, 4, 6, dtype=F64) * 2).requires_grad_(), torch.randn(2, 3, dtype=F64).requires_grad_()
    mask = make_mask(2, 4, padding)
    assert torch.autograd.gradcheck(lambda g, h: NativeMinGRUScan.apply(g, h, mask), [gates, h0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_padding_carries_the_state_exactly(dtype):
    """Padded steps leave h bit for bit as it was: the state after 33 padded steps is the one after
    the last valid step, and y is 0 there."""
    B, T, H, short = 3, 40, 24, 7
    gates, h0 = torch.randn(B, T, 2 * H, dtype=dtype), torch.randn(B, H, dtype=dtype)
    mask = torch.arange(T)[None] < torch.tensor([40, short, 1])[:, None]                # (B, T)
    (y, h), (_, h_short) = (NativeMinGRUScan.apply(gates[:, :t], h0, mask[:, :t]) for t in (T, short))
    assert torch.equal(h[1:], h_short[1:])
    assert torch.equal(h[1], y[1, short - 1]) and torch.equal(h[2], y[2, 0])
    assert not y[1, short:].any() and not y[2, 1:].any()
    a, b = torch.where(mask[:, :, None], torch.rand(B, T, H, dtype=dtype), 1.0), torch.randn(B, T, H, dtype=dtype)
    b = b * mask[:, :, None]
    hs = NativeLinearRecurrence.apply(a, b, h0)
    assert torch.equal(hs[1, -1], hs[1, short - 1]) and torch.equal(hs[2, -1], hs[2, 0])


def test_empty_shapes():
    for B, T in ((0, 4), (2, 0)):
        a, b, h0 = (t.requires_grad_() for t in recurrence_inputs(B, T, 3, F64))
        h = NativeLinearRecurrence.apply(a, b, h0)
        assert h.shape == (B, T, 3)
        da, db, dh0 = torch.autograd.grad(h.sum() + h0.sum(), (a, b, h0))
        assert da.shape == a.shape and db.shape == b.shape and dh0.eq(1).all()
        gates = torch.randn(B, T, 6, dtype=F64, requires_grad=True)
        for mask in (None, torch.ones(B, T, dtype=torch.bool)):
            y, last = NativeMinGRUScan.apply(gates, h0, mask)
            assert y.shape == (B, T, 3) and torch.equal(last, h0 if T == 0 else last)
            dg, dh0 = torch.autograd.grad(y.sum() + 2 * last.sum(), (gates, h0))
            assert dg.shape == gates.shape and (T > 0 or dh0.eq(2).all())


def test_strided_inputs():
    gates = torch.randn(7, 2, 10, dtype=F64).transpose(0, 1)                 # (B, T, 2H) = (2, 7, 10), strided
    h0 = torch.randn(5, 2, dtype=F64).t()
    for g, w in zip(run_mingru(NativeMinGRUScan.apply, gates, h0, None), run_mingru(torch_mingru, gates, h0, None),
                    strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-10)
    a, b, _ = recurrence_inputs(7, 2, 5, F64)
    args = (a.transpose(0, 1), b.transpose(0, 1), h0)
    both = run_recurrence(NativeLinearRecurrence, *args), run_recurrence(LinearRecurrence, *args)
    for g, w in zip(*both, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-10)


def test_other_dtypes_are_refused():
    with pytest.raises(TypeError, match="LinearRecurrence"):
        NativeLinearRecurrence.apply(*(t.half() for t in recurrence_inputs(1, 2, 2, F64)))
    with pytest.raises(TypeError, match="float32 or float64"):
        NativeMinGRUScan.apply(torch.zeros(1, 2, 4, dtype=torch.bfloat16), torch.zeros(1, 2), None)
    with pytest.raises(ValueError, match="2H"):
        NativeMinGRUScan.apply(torch.zeros(1, 2, 5), torch.zeros(1, 2), None)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_smoke_runs(dtype):
    """What `kernels.backend.native` tries before it first picks this loop."""
    smoke(dtype)
