"""The compiled LSTM loop (`kernels.lstm_native`) against the torch-op loop `LSTMLoop`: the same
outputs and gradients for every combination of padding, zoneout and recurrent dropout."""

from __future__ import annotations

import pytest
import torch

from rnnkit.kernels._common import carry_weights
from rnnkit.kernels.lstm import LSTMLoop
from rnnkit.kernels.lstm_native import NativeLSTMLoop, available

pytestmark = pytest.mark.skipif(not available(), reason="needs numba on a little-endian machine")

F64 = torch.float64
ZONEOUT = {   # per state component (h, c): the weight of the old value, as `bptt_loop` receives it
    "none": lambda B, T, H, dt: None,
    "eval": lambda B, T, H, dt: (0.3, 0.2),                                    # expectation p
    "draws": lambda B, T, H, dt: tuple(torch.bernoulli(torch.full((B, T, H), p, dtype=dt)) for p in (0.3, 0.2)),
    "mixed": lambda B, T, H, dt: (torch.bernoulli(torch.full((B, T, H), 0.3, dtype=dt)), 0.2),
    "bool": lambda B, T, H, dt: tuple(torch.rand(B, T, H) < p for p in (0.3, 0.2)),   # as `Zoneout` draws on the CPU
}
SHAPES = [(1, 1, 1), (2, 5, 3), (3, 7, 8), (4, 6, 17), (1, 9, 33), (5, 3, 64)]   # (B, T, H): tails and SIMD bodies


def options(B, T, H, dt, zoneout, rdrop, padding, bits=False):
    """h_mask, keep_h, keep_c, valid, built as `lstm._run` builds them (bool draws stay bool with
    `bits`, as for the native loop)."""
    mask = None
    if padding == "lengths":
        mask = torch.arange(T)[None] < torch.randint(0, T + 1, (B,))[:, None]               # (B, T)
    elif padding == "holes":
        mask = torch.rand(B, T) < 0.6
    like = torch.empty(0, dtype=dt)
    keep_h, keep_c = carry_weights(ZONEOUT[zoneout](B, T, H, dt), mask, like, 2, bits=bits)
    h_mask = torch.bernoulli(torch.full((B, H), 0.6, dtype=dt)) / 0.6 if rdrop else None
    valid = None if mask is None else mask[:, :, None].to(dt)
    return h_mask, keep_h, keep_c, valid


def run(fn, args, opts):
    """Outputs and the gradients of a fixed random projection of them w.r.t. xp, h0, c0, W_hh."""
    leaves = [a.detach().clone().requires_grad_() for a in args]
    out = fn.apply(*leaves, None, None, None, *opts, 0.0)
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, dtype=o.dtype, generator=g)).sum() for o in out)
    return list(out) + list(torch.autograd.grad(loss, leaves))


def inputs(B, T, H, dt):
    """xp, h0, c0, W_hh; W_hh about 1.7 times torch's initial scale (larger ones make float32
    gradients grow to where both loops' round-off differs by more than 1e-5)."""
    return (torch.randn(B, T, 4 * H, dtype=dt), torch.randn(B, H, dtype=dt), torch.randn(B, H, dtype=dt),
            torch.randn(4 * H, H, dtype=dt) / H ** 0.5)


@pytest.mark.parametrize("padding", [None, "lengths", "holes"])
@pytest.mark.parametrize("rdrop", [False, True], ids=["", "rdrop"])
@pytest.mark.parametrize("zoneout", sorted(ZONEOUT))
def test_native_equals_torch_loop(zoneout, rdrop, padding, blas, teams):
    for seed, (B, T, H) in enumerate(SHAPES):
        torch.manual_seed(seed)
        args, rng = inputs(B, T, H, F64), torch.get_rng_state()
        opts = options(B, T, H, F64, zoneout, rdrop, padding, bits=True)
        torch.set_rng_state(rng)
        got, want = run(NativeLSTMLoop, args, opts), run(LSTMLoop, args, options(B, T, H, F64, zoneout, rdrop, padding))
        for name, g, w in zip(["y", "h_T", "c_T", "d_xp", "d_h0", "d_c0", "d_w_hh"], got, want, strict=True):
            torch.testing.assert_close(g, w, rtol=0, atol=1e-10, msg=lambda m, n=name, s=(B, T, H): f"{n}, {s}: {m}")


def test_float32_agrees(blas, teams):
    torch.manual_seed(0)
    B, T, H = 4, 30, 40
    args, opts = inputs(B, T, H, torch.float32), options(B, T, H, torch.float32, "mixed", True, "lengths")
    for g, w in zip(run(NativeLSTMLoop, args, opts), run(LSTMLoop, args, opts), strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("zoneout,rdrop,padding", [("none", False, None), ("draws", False, None),
                                                    ("eval", True, None), ("mixed", True, "holes")])
def test_gradcheck(zoneout, rdrop, padding):
    torch.manual_seed(0)
    args = [a.requires_grad_() for a in inputs(2, 3, 2, F64)]
    opts = options(2, 3, 2, F64, zoneout, rdrop, padding)
    assert torch.autograd.gradcheck(lambda *a: NativeLSTMLoop.apply(*a, None, None, None, *opts, 0.0), args)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_padding_carries_the_state_exactly(dtype):
    """Padded steps (carry 1) leave h and c bit for bit as they were, as torch.lerp does: the state
    after 33 padded steps is the one after the last valid step. (Compared within one batch size:
    BLAS may sum in another order for another B.)"""
    torch.manual_seed(0)
    B, T, H, short = 3, 40, 24, 7
    xp, h0, c0, w = inputs(B, T, H, dtype)
    mask = torch.arange(T)[None] < torch.tensor([40, short, 1])[:, None]                # (B, T)
    keep_h, keep_c = carry_weights((0.1, 0.1), mask, xp, 2)
    run = lambda t: NativeLSTMLoop.apply(xp[:, :t], h0, c0, w, None, None, None, None, keep_h[:, :t],
                                         keep_c[:, :t], mask[:, :t, None].to(dtype), 0.0)
    (y, h, c), (_, h_short, c_short) = run(T), run(short)
    assert torch.equal(h[1:], h_short[1:]) and torch.equal(c[1:], c_short[1:])
    assert torch.equal(h[1], y[1, short - 1]) and torch.equal(h[2], y[2, 0])
    assert not y[1, short:].any() and not y[2, 1:].any()


def test_strided_inputs_and_empty_shapes():
    torch.manual_seed(0)
    xp = torch.randn(5, 2, 12, dtype=F64).transpose(0, 1)                     # (B, T, 4H) = (2, 5, 12), strided
    args = (xp, torch.randn(2, 3, dtype=F64), torch.randn(2, 3, dtype=F64), torch.randn(12, 3, dtype=F64))
    for g, w in zip(run(NativeLSTMLoop, args, (None,) * 4), run(LSTMLoop, args, (None,) * 4), strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-10)
    args = inputs(0, 4, 3, F64)                                               # no sequences
    for g, w in zip(run(NativeLSTMLoop, args, (None,) * 4), run(LSTMLoop, args, (None,) * 4), strict=True):
        torch.testing.assert_close(g, w)
    args = inputs(2, 0, 3, F64)                                               # no steps: both loops agree
    for g, w in zip(run(NativeLSTMLoop, args, (None,) * 4), run(LSTMLoop, args, (None,) * 4), strict=True):
        torch.testing.assert_close(g, w)
    xp, h0, c0, w = (a.requires_grad_() for a in args)
    y, h, c = NativeLSTMLoop.apply(xp, h0, c0, w, None, None, None, None, None, None, None, 0.0)
    assert y.shape == (2, 0, 3) and torch.equal(h, h0) and torch.equal(c, c0)
    grads = torch.autograd.grad(h.sum() + 2 * c.sum(), (h0, c0, w))
    assert grads[0].eq(1).all() and grads[1].eq(2).all() and grads[2].eq(0).all()


def test_output_gradients_in_column_major_order():
    """dL/dh and dL/dc arriving column-major (e.g. from a loss on h * M.t()) must not be read as
    rows: the loop copies them row-major first."""
    torch.manual_seed(0)
    args = [a.requires_grad_() for a in inputs(3, 4, 2, F64)]
    weight = torch.randn(2, 3, dtype=F64).t()                                  # (3, 2), column-major
    grads = []
    for loop in (NativeLSTMLoop, LSTMLoop):
        y, h, c = loop.apply(*args, None, None, None, None, None, None, None, 0.0)
        grads.append(torch.autograd.grad((h * weight).sum() + (c * weight).sum() + y.sum(), args))
    for g, w in zip(*grads, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-10)


def test_layer_norm_is_refused():
    xp, h0, c0, w = inputs(1, 2, 2, F64)
    with pytest.raises(ValueError, match="LSTMLoop"):
        NativeLSTMLoop.apply(xp, h0, c0, w, torch.ones(8, dtype=F64), None, None, None, None, None, None, 1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fastmath_matches_torch(dtype):
    """σ and tanh within a few ulp of torch's, saturating at ±inf, NaN in -> NaN out, tanh(±0) = ±0."""
    numba = pytest.importorskip("numba")
    from rnnkit.kernels._fastmath import sigmoid, tanh

    @numba.njit(error_model="numpy")
    def both(x, out):
        for i in range(x.shape[0]):
            out[0, i], out[1, i] = sigmoid(x[i]), tanh(x[i])

    x = torch.cat([torch.randn(10_000, dtype=F64) * 6, torch.logspace(-30, 3, 200, dtype=F64),
                   -torch.logspace(-30, 3, 200, dtype=F64)]).to(dtype)
    out = torch.empty(2, len(x), dtype=dtype)
    both(x.numpy(), out.numpy())
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(out[0], torch.sigmoid(x), rtol=4 * eps, atol=torch.finfo(dtype).tiny * 1e4)
    torch.testing.assert_close(out[1], torch.tanh(x), rtol=4 * eps, atol=0)
    special = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -0.0], dtype=dtype)
    out = torch.empty(2, 5, dtype=dtype)
    both(special.numpy(), out.numpy())
    assert out[:, 0].isnan().all()
    assert out[0, 1:3].tolist() == pytest.approx([1.0, 0.0]) and out[1, 1:3].tolist() == [1.0, -1.0]
    assert out[0, 3:].tolist() == [0.5, 0.5] and out[1, 3:].tolist() == [0.0, 0.0]
    assert torch.signbit(out[1, 3:]).tolist() == [False, True]


@pytest.mark.parametrize("T", [1, 2, 5, 9])
def test_inference_keeps_one_step_and_gives_the_training_outputs(T):
    """Without backward the loop rewrites one step of gates and tanh c̃ and two of c: the outputs
    equal the call that keeps everything, bit for bit (zoneout, recurrent dropout and padding on)."""
    torch.manual_seed(T)
    B, H = 3, 5
    args, opts = inputs(B, T, H, F64), options(B, T, H, F64, "bool", True, "lengths", bits=True)
    train = NativeLSTMLoop.apply(*(a.clone().requires_grad_() for a in args), None, None, None, *opts, 0.0)
    infer = NativeLSTMLoop.apply(*args, None, None, None, *opts, 0.0)
    assert train[0].grad_fn.saved_tensors[5].shape == (B, T, 4 * H)          # acts, all steps
    for got, want in zip(infer, train, strict=True):
        assert torch.equal(got, want.detach())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_team_gives_the_one_thread_results_bit_for_bit(dtype, monkeypatch):
    """The row passes split over two of torch's threads (`kernels._teams`): outputs and gradients,
    and the outputs of an inference call (which keeps one step), equal the one-thread loop's exactly."""
    from rnnkit.kernels import _teams

    if _teams.pool() is None:
        pytest.skip("torch here has no libgomp")
    torch.manual_seed(0)
    B, T, H = 7, 12, 40
    args, opts = inputs(B, T, H, dtype), options(B, T, H, dtype, "mixed", True, "holes", bits=True)
    results = []
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        for least, threads in ((0, 2), (10 ** 9, 1)):
            monkeypatch.setattr(_teams, "MIN_ROW_WORK", least)
            assert _teams.team(B, 4 * H) == threads
            with torch.no_grad():
                infer = NativeLSTMLoop.apply(*args, None, None, None, *opts, 0.0)
            results.append(run(NativeLSTMLoop, args, opts) + list(infer))
    finally:
        torch.set_num_threads(before)
    for i, (got, want) in enumerate(zip(*results, strict=True)):
        assert torch.equal(got, want), i
