"""The compiled layer-norm LSTM loop (`kernels.lstm_ln_native`) against torch's layer norm of the
input followed by the torch-op loop `LSTMLoop` with its layer-norm arguments: the same outputs and
gradients (u = W_ih x, h0, c0, W_hh and the five LN parameters) for every combination of padding,
zoneout and recurrent dropout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.kernels._common import carry_weights
from rnnkit.kernels.lstm import LSTMLoop
from rnnkit.kernels.lstm_ln_native import NativeLayerNormLSTMLoop, available, smoke
from test_kernels_native_lstm import SHAPES, ZONEOUT, options  # the same options as the plain loop's tests

pytestmark = pytest.mark.skipif(not available(), reason="needs numba on a little-endian machine")

F64 = torch.float64
EPS = 1e-5
NAMES = ["y", "h_T", "c_T", "d_u", "d_gain_ih", "d_bias_ih", "d_h0", "d_c0", "d_w_hh", "d_gain_hh", "d_gain_c",
         "d_bias_c"]


def inputs(B, T, H, dt):
    """u, gain_ih, bias_ih, h0, c0, W_hh, gain_hh, gain_c, bias_c; the LN parameters away from their
    initial 1 and 0 so that their gradients' terms all count."""
    gain = lambda n: 1 + 0.3 * torch.randn(n, dtype=dt)  # noqa: E731
    return (torch.randn(B, T, 4 * H, dtype=dt), gain(4 * H), 0.3 * torch.randn(4 * H, dtype=dt),
            torch.randn(B, H, dtype=dt), torch.randn(B, H, dtype=dt), torch.randn(4 * H, H, dtype=dt) / H ** 0.5,
            gain(4 * H), gain(H), 0.3 * torch.randn(H, dtype=dt))


class Reference:
    """torch's layer norm over all steps, then `LSTMLoop`: what the native loop fuses."""

    @staticmethod
    def apply(u, gain_ih, bias_ih, *rest):
        return LSTMLoop.apply(F.layer_norm(u, (u.size(-1),), gain_ih, bias_ih, rest[-1]), *rest)


def run(fn, args, opts, projection=None):
    """Outputs and the gradients of a fixed random projection of them w.r.t. all seven inputs
    (drawn in `projection`'s dtype, the outputs' by default)."""
    leaves = [a.detach().clone().requires_grad_() for a in args]
    out = fn.apply(*leaves, *opts, EPS)
    g = torch.Generator().manual_seed(1)
    draw = lambda o: torch.randn(o.shape, dtype=projection or o.dtype, generator=g).to(o.dtype)  # noqa: E731
    loss = sum((o * draw(o)).sum() for o in out)
    return list(out) + list(torch.autograd.grad(loss, leaves))


def assert_agree(got, want, shape, **tol):
    for name, g, w in zip(NAMES[:len(got)], got, want, strict=True):
        torch.testing.assert_close(g, w, **tol, msg=lambda m, n=name: f"{n}, {shape}: {m}")


@pytest.mark.parametrize("padding", [None, "lengths", "holes"])
@pytest.mark.parametrize("rdrop", [False, True], ids=["", "rdrop"])
@pytest.mark.parametrize("zoneout", sorted(ZONEOUT))
def test_native_equals_torch_loop(zoneout, rdrop, padding, blas, teams):
    for seed, (B, T, H) in enumerate(SHAPES):
        torch.manual_seed(seed)
        args, opts = inputs(B, T, H, F64), options(B, T, H, F64, zoneout, rdrop, padding)
        assert_agree(run(NativeLayerNormLSTMLoop, args, opts), run(Reference, args, opts), (B, T, H),
                     rtol=0, atol=1e-10)


def test_float32_agrees(blas, teams):
    """Outputs agree with `LSTMLoop`'s at 1e-5. The gradients here reach 100 (LN's 1/σ scales them
    and dW_hh sums B T terms), where the two float32 loops' round-off differs by up to 1.5e-5 of
    the largest entry; so each is held to the float64 result instead: within 1e-5 of its largest
    entry, and at most twice as far from it as torch's float32 gradient is (with torch's MKL the
    native loop is 1.5 to 3 times closer: it sums LN's means in registers and the gain gradients
    in float64; with scipy's OpenBLAS one gradient, d_h0, is 1.4 times further)."""
    torch.manual_seed(0)
    B, T, H = 4, 30, 40
    args, opts = inputs(B, T, H, torch.float32), options(B, T, H, torch.float32, "mixed", True, "lengths")
    wide = lambda xs: [x if x is None or isinstance(x, float) else x.double() for x in xs]  # noqa: E731
    exact = run(Reference, wide(args), wide(opts), projection=torch.float64)
    got, want = (run(fn, args, opts, projection=torch.float64) for fn in (NativeLayerNormLSTMLoop, Reference))
    assert_agree(got[:3], want[:3], (B, T, H), rtol=1e-5, atol=1e-5)
    for name, g, w, e in zip(NAMES[3:], got[3:], want[3:], exact[3:], strict=True):
        error, torch_error = (g.double() - e).abs().max(), (w.double() - e).abs().max()
        assert error <= 1e-5 * e.abs().max() and error <= 2 * torch_error, (name, error, torch_error)


@pytest.mark.parametrize("zoneout,rdrop,padding", [("none", False, None), ("draws", False, None),
                                                    ("eval", True, None), ("mixed", True, "holes")])
def test_gradcheck(zoneout, rdrop, padding):
    torch.manual_seed(0)
    args = [a.requires_grad_() for a in inputs(2, 3, 3, F64)]
    opts = options(2, 3, 3, F64, zoneout, rdrop, padding)
    assert torch.autograd.gradcheck(lambda *a: NativeLayerNormLSTMLoop.apply(*a, *opts, EPS), args)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_padding_carries_the_state_exactly(dtype):
    """Padded steps (carry 1) leave h and c bit for bit as they were: the state after 33 padded
    steps is the one after the last valid step, and y is 0 there."""
    torch.manual_seed(0)
    B, T, H, short = 3, 40, 24, 7
    u, *rest = inputs(B, T, H, dtype)
    mask = torch.arange(T)[None] < torch.tensor([40, short, 1])[:, None]                # (B, T)
    keep_h, keep_c = carry_weights((0.1, 0.1), mask, u, 2)
    run = lambda t: NativeLayerNormLSTMLoop.apply(u[:, :t], *rest, None, keep_h[:, :t], keep_c[:, :t],  # noqa: E731
                                                  mask[:, :t, None].to(dtype), EPS)
    (y, h, c), (_, h_short, c_short) = run(T), run(short)
    assert torch.equal(h[1:], h_short[1:]) and torch.equal(c[1:], c_short[1:])
    assert torch.equal(h[1], y[1, short - 1]) and torch.equal(h[2], y[2, 0])
    assert not y[1, short:].any() and not y[2, 1:].any()


def test_strided_inputs_and_empty_shapes():
    torch.manual_seed(0)
    _, *rest = inputs(2, 5, 3, F64)
    u = torch.randn(2, 5, 12, dtype=F64).transpose(0, 1).contiguous().transpose(0, 1)  # (B, T, 4H), time-major
    none = (None,) * 4
    assert_agree(run(NativeLayerNormLSTMLoop, (u, *rest), none), run(Reference, (u, *rest), none), "time-major",
                 rtol=0, atol=1e-10)
    u = torch.randn(2, 10, 12, dtype=F64)[:, ::2]                             # strided in no usable way
    assert_agree(run(NativeLayerNormLSTMLoop, (u, *rest), none), run(Reference, (u, *rest), none), "strided",
                 rtol=0, atol=1e-10)
    args = inputs(0, 4, 3, F64)                                               # no sequences
    assert_agree(run(NativeLayerNormLSTMLoop, args, none), run(Reference, args, none), "B = 0")
    args = inputs(2, 0, 3, F64)                                               # no steps: both loops agree
    assert_agree(run(NativeLayerNormLSTMLoop, args, none), run(Reference, args, none), "T = 0")
    leaves = [a.requires_grad_() for a in args]
    y, h, c = NativeLayerNormLSTMLoop.apply(*leaves, *none, EPS)
    assert y.shape == (2, 0, 3) and torch.equal(h, leaves[3]) and torch.equal(c, leaves[4])
    grads = torch.autograd.grad(h.sum() + 2 * c.sum(), leaves)
    assert grads[3].eq(1).all() and grads[4].eq(2).all()
    assert all(g.eq(0).all() for i, g in enumerate(grads) if i not in (3, 4))


def test_missing_layer_norm_parameters_and_other_dtypes_are_refused():
    args = list(inputs(1, 2, 2, F64))
    for missing in (1, 2, 6, 7, 8):
        given = [None if i == missing else a for i, a in enumerate(args)]
        with pytest.raises(ValueError, match="NativeLSTMLoop"):
            NativeLayerNormLSTMLoop.apply(*given, None, None, None, None, EPS)
    with pytest.raises(TypeError, match="LSTMLoop"):
        NativeLayerNormLSTMLoop.apply(*(a.half() for a in args), None, None, None, None, EPS)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_smoke_runs(dtype):
    """What `kernels.backend.native` tries before it first picks this loop."""
    smoke(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inference_keeps_one_step_and_gives_the_same_outputs(dtype):
    """With no input needing a gradient the loop rewrites one step's x̂_i, x̂_r instead of keeping
    all T (what backward alone reads): the outputs are those of the training call, bit for bit."""
    torch.manual_seed(0)
    B, T, H = 3, 17, 8
    args, opts = inputs(B, T, H, dtype), options(B, T, H, dtype, "mixed", True, "lengths")
    train = NativeLayerNormLSTMLoop.apply(*[a.clone().requires_grad_() for a in args], *opts, EPS)
    with torch.no_grad():
        infer = NativeLayerNormLSTMLoop.apply(*args, *opts, EPS)
    for got, want in zip(infer, train, strict=True):
        assert torch.equal(got, want.detach())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_team_gives_the_one_thread_results_bit_for_bit(dtype, monkeypatch):
    """The row passes split over two of torch's threads (`kernels._teams`): every output and gradient,
    and the outputs of an inference call, equal the one-thread loop's exactly (each row's arithmetic
    is the same, and the LN parameters' sums are kept per sequence and added in order)."""
    from rnnkit.kernels import _teams

    if _teams.pool() is None:
        pytest.skip("torch here has no libgomp")
    torch.manual_seed(0)
    B, T, H = 7, 12, 40
    args, opts = inputs(B, T, H, dtype), options(B, T, H, dtype, "mixed", True, "holes")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        results = []
        for least, threads in ((0, 2), (10 ** 9, 1)):
            monkeypatch.setattr(_teams, "MIN_ROW_WORK", least)
            assert _teams.team(B, 4 * H) == threads
            with torch.no_grad():                         # inference keeps one step of x̂ (see below)
                infer = NativeLayerNormLSTMLoop.apply(*args, *opts, EPS)
            results.append(run(NativeLayerNormLSTMLoop, args, opts) + list(infer))
    finally:
        torch.set_num_threads(before)
    for name, got, want in zip(NAMES + ["infer y", "infer h_T", "infer c_T"], *results, strict=True):
        assert torch.equal(got, want), name
