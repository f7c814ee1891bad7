"""The hand-written BPTT kernels against autograd through the reference loops."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

from rnnkit import (
    ElmanCell,
    GRUCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    MinGRUCell,
    Recurrent,
    RecurrentDropout,
    Zoneout,
    weight_drop,
)
from rnnkit.kernels import ElmanLoop, GRULoop, LSTMLoop, bptt_loop
from rnnkit.kernels.elman_native import NativeElmanLoop
from rnnkit.kernels.gru_ln_native import NativeLayerNormGRULoop
from rnnkit.kernels.gru_native import NativeGRULoop
from rnnkit.kernels.lstm_ln_native import NativeLayerNormLSTMLoop
from rnnkit.kernels.lstm_native import NativeLSTMLoop
from rnnkit.layers.scan import time_mask

# every test here runs under both CPU backends: the native loops and the Python ones
pytestmark = pytest.mark.usefixtures("kernel_backend")
NATIVE = {"lstm", "lstm_nobias", "layernorm_lstm", "gru", "gru_nobias", "layernorm_gru", "elman_tanh",
          "elman_relu"}   # run natively

F64 = torch.float64
B, T, I, H = 3, 5, 4, 6
LENGTHS = torch.tensor([5, 3, 0])



def perturbed(cell):
    """Random non-default values for every parameter (LN gains 1 and shifts 0 hide bugs)."""
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return cell


CELLS = {
    "lstm": lambda: LSTMCell(I, H),
    "lstm_nobias": lambda: LSTMCell(I, H, bias=False),
    "layernorm_lstm": lambda: LayerNormLSTMCell(I, H),
    "gru": lambda: GRUCell(I, H),
    "gru_nobias": lambda: GRUCell(I, H, bias=False),
    "layernorm_gru": lambda: LayerNormGRUCell(I, H),
    "elman_tanh": lambda: ElmanCell(I, H),
    "elman_relu": lambda: ElmanCell(I, H, nonlinearity="relu"),
}

VARIANTS = {   # name -> (wrap the cell, use lengths (True) or a mask with holes ("holes"))
    "plain": (lambda c: c, False),
    "lengths": (lambda c: c, True),
    "holes": (lambda c: c, "holes"),
    "zoneout": (lambda c: Zoneout(c, 0.3, p_c=0.2), False),
    "zoneout_eval": (lambda c: Zoneout(c, 0.3, p_c=0.2).eval(), False),
    "rdrop": (lambda c: RecurrentDropout(c, 0.4), False),
    "zoneout_rdrop": (lambda c: RecurrentDropout(Zoneout(c, 0.3, p_c=0.2), 0.4), False),
    "all_lengths": (lambda c: RecurrentDropout(Zoneout(c, 0.3, p_c=0.2), 0.4), True),
    "all_holes": (lambda c: RecurrentDropout(Zoneout(c, 0.3, p_c=0.2), 0.4), "holes"),
}


def inputs(module, dtype=F64, lengths=False):
    x = torch.randn(B, T, I, dtype=dtype, requires_grad=True)
    state = tuple(torch.randn(B, n, dtype=dtype, requires_grad=True) for n in module.state_size)
    if lengths == "holes":
        return x, state, torch.tensor([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    return x, state, time_mask(LENGTHS, T) if lengths else None


def run_with_grads(scan, module, x, state, mask, seed):
    """Outputs and the gradients of a random projection of them w.r.t. x, state, parameters."""
    torch.manual_seed(seed)                  # the same zoneout / dropout draws on both sides
    y, final = scan(x, state, mask)
    torch.manual_seed(seed + 1)
    # randn(shape), not randn_like: torch.lstm returns a transposed y, and randn_like keeps strides
    loss = sum((o * torch.randn(o.shape, dtype=o.dtype)).sum() for o in (y, *final))
    leaves = [x, *state, *module.parameters()]
    return [y, *final], torch.autograd.grad(loss, leaves)


def assert_all_close(got, want, **tol):
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, **tol)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", sorted(CELLS))
def test_fast_path_equals_reference(name, variant):
    wrap, lengths = VARIANTS[variant]
    module = wrap(perturbed(CELLS[name]()).to(F64))
    x, state, mask = inputs(module, lengths=lengths)
    fast = run_with_grads(module.scan, module, x, state, mask, seed=7)
    ref = run_with_grads(module.reference_scan, module, x, state, mask, seed=7)
    assert_all_close(fast[0], ref[0], rtol=0, atol=1e-10)
    assert_all_close(fast[1], ref[1], rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_kernel_without_options_equals_reference(name):
    """The kernel itself with nothing on (the cells send this case to torch's fused kernels)."""
    cell = perturbed(CELLS[name]()).to(F64)
    x, state, _ = inputs(cell)
    fast = run_with_grads(lambda x, s, m: bptt_loop(cell, x, s), cell, x, state, None, seed=3)
    ref = run_with_grads(cell.reference_scan, cell, x, state, None, seed=3)
    assert_all_close(fast[0] + list(fast[1]), ref[0] + list(ref[1]), rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_float32_agrees(name):
    module = RecurrentDropout(Zoneout(perturbed(CELLS[name]()), 0.3), 0.4)
    x, state, mask = inputs(module, dtype=torch.float32, lengths=True)
    fast = run_with_grads(module.scan, module, x, state, mask, seed=5)
    ref = run_with_grads(module.reference_scan, module, x, state, mask, seed=5)
    assert_all_close(fast[0] + list(fast[1]), ref[0] + list(ref[1]), rtol=1e-5, atol=1e-5)


def leaf(*shape):
    return torch.randn(*shape, dtype=F64, requires_grad=True)


def loop_options(zoneout, h_mask, mask, states, steps=3, batch=2, hidden=2):
    """h_mask, one carry per state component and valid, as `bptt_loop` builds them."""
    valid = torch.tensor([[1.0] * steps, [1.0] + [0.0] * (steps - 1)], dtype=F64)[:, :, None]
    keeps = [torch.rand(batch, steps, hidden, dtype=F64) if zoneout else None for _ in range(states)]
    if mask:   # padding is a carry of 1 (see kernels._common)
        keeps = [torch.where(valid > 0, k if zoneout else 0.0, 1.0).to(F64) for k in keeps]
    rdrop = 2.0 * torch.randint(0, 2, (batch, hidden), dtype=F64) if h_mask else None
    return rdrop, *keeps, valid if mask else None


OPTIONS = [(False, False, False), (True, False, False), (False, True, False), (False, False, True),
           (True, True, True)]


@pytest.mark.parametrize("ln", [False, True], ids=["plain", "ln"])
@pytest.mark.parametrize("zoneout,h_mask,mask", OPTIONS)
def test_lstm_loop_gradcheck(ln, zoneout, h_mask, mask, kernel_backend):
    torch.manual_seed(0)
    options = loop_options(zoneout, h_mask, mask, states=2)
    if ln and kernel_backend == "native":   # LN_ih inside: u = W_ih x and its gain and shift come first
        args = [leaf(2, 3, 8), leaf(8), leaf(8), leaf(2, 2), leaf(2, 2), leaf(8, 2), leaf(8), leaf(2), leaf(2)]
        assert torch.autograd.gradcheck(lambda *a: NativeLayerNormLSTMLoop.apply(*a, *options, 1e-5), args)
        return
    loop = NativeLSTMLoop if kernel_backend == "native" else LSTMLoop
    gains = [leaf(8), leaf(2), leaf(2)] if ln else []
    args = [leaf(2, 3, 8), leaf(2, 2), leaf(2, 2), leaf(8, 2), *gains]
    fn = lambda *a: loop.apply(*a, *([None] * (7 - len(a))), *options, 1e-5)
    assert torch.autograd.gradcheck(fn, args)


@pytest.mark.parametrize("rec", ["bias", "nobias", "ln"])
@pytest.mark.parametrize("zoneout,h_mask,mask", OPTIONS)
def test_gru_loop_gradcheck(rec, zoneout, h_mask, mask, kernel_backend):
    torch.manual_seed(0)
    loop = (NativeLayerNormGRULoop if rec == "ln" else NativeGRULoop) if kernel_backend == "native" else GRULoop
    params = {"bias": [leaf(6)], "nobias": [], "ln": [leaf(6), leaf(6)]}[rec]
    args = [leaf(2, 3, 6), leaf(2, 2), leaf(6, 2), *params]
    options = loop_options(zoneout, h_mask, mask, states=1)
    fn = lambda *a: loop.apply(*a, *([None] * (5 - len(a))), *options, rec == "ln", 1e-5)
    assert torch.autograd.gradcheck(fn, args)


@pytest.mark.parametrize("relu", [False, True], ids=["tanh", "relu"])
@pytest.mark.parametrize("zoneout,h_mask,mask", OPTIONS)
def test_elman_loop_gradcheck(relu, zoneout, h_mask, mask, kernel_backend):
    torch.manual_seed(0)
    loop = NativeElmanLoop if kernel_backend == "native" else ElmanLoop
    args = [leaf(2, 3, 2), leaf(2, 2), leaf(2, 2)]
    options = loop_options(zoneout, h_mask, mask, states=1)
    assert torch.autograd.gradcheck(lambda *a: loop.apply(*a, *options, relu), args)


def test_weight_drop_gets_gradients_on_the_original_weight():
    cell = weight_drop(perturbed(LSTMCell(I, H)).to(F64), 0.5)
    layer = Recurrent(Zoneout(cell, 0.2))
    x = torch.randn(B, T, I, dtype=F64)
    original = cell.parametrizations.weight_hh.original
    with parametrize.cached():   # the parametrized class still reaches the LSTM kernel
        assert bptt_loop(cell, x, cell.initial_state(x), zoneout=(0.2, 0.2)) is not None
    grads = []
    for scan in ("scan", "reference_scan"):
        torch.manual_seed(11)
        with parametrize.cached():
            y, _ = getattr(layer.cell, scan)(x, layer.cell.initial_state(x), time_mask(LENGTHS, T))
        grads.append(torch.autograd.grad(y.square().sum(), original)[0])
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-10)
    torch.manual_seed(11)
    layer(x, lengths=LENGTHS)[0].sum().backward()
    assert original.grad is not None and original.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(CELLS))
def test_eval_no_grad_and_empty_sequences(name):
    module = Zoneout(CELLS[name](), 0.3).eval()
    layer = Recurrent(module)
    x = torch.randn(B, T, I)
    with torch.no_grad():
        y, state = layer(x, lengths=LENGTHS)
        y_ref, state_ref = module.reference_scan(x, module.initial_state(x), time_mask(LENGTHS, T))
    assert not y.requires_grad
    assert_all_close([y, *state], [y_ref, *state_ref])
    y, state = Recurrent(RecurrentDropout(module.train(), 0.3))(x[:, :0])
    assert y.shape == (B, 0, H) and all(s.shape == (B, H) for s in state)


def test_unsupported_cells_return_none():
    cell = MinGRUCell(I, H)
    x = torch.randn(B, T, I)
    assert bptt_loop(cell, x, cell.initial_state(x)) is None


@pytest.mark.parametrize("name", sorted(CELLS))
def test_the_whole_loop_is_one_autograd_node(name, kernel_backend):
    """No per-step graph: y comes straight out of the kernel's Function (perf-notes, section 3)."""
    module = RecurrentDropout(Zoneout(CELLS[name](), 0.3), 0.4)
    x, state, mask = inputs(module, dtype=torch.float32, lengths=True)
    y, final = module.scan(x, state, mask)
    assert type(y.grad_fn).__name__.endswith("LoopBackward")
    native = kernel_backend == "native" and name in NATIVE
    assert type(y.grad_fn).__name__.startswith("Native") == native
    assert all(s.grad_fn is not None for s in final)
