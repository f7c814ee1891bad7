"""The compiled layer-norm GRU loop (`kernels.gru_ln_native`) against the torch-op loop `GRULoop`
with ln=True: the same outputs and gradients (xp, h0, W_hh and LN_hh's gain and shift) for every
combination of padding, zoneout and recurrent dropout."""

from __future__ import annotations

import pytest
import torch

from rnnkit.kernels.gru import GRULoop
from rnnkit.kernels.gru_ln_native import NativeLayerNormGRULoop, available, smoke
from test_kernels_native_gru_elman import SHAPES, ZONEOUT, options  # the plain GRU's options (one carry)
from test_kernels_native_ln_lstm import EPS, run  # outputs and gradients of a random projection

pytestmark = pytest.mark.skipif(not available(), reason="needs numba on a little-endian machine")

F64 = torch.float64
NAMES = ["y", "h_T", "d_xp", "d_h0", "d_w_hh", "d_gain_hh", "d_bias_hh"]


def inputs(B, T, H, dt):
    """xp (time-major storage, as `layernorm_gru_loop` makes it), h0, W_hh, gain_hh, bias_hh; the
    LN parameters away from their initial 1 and 0 so that their gradients' terms all count."""
    return (torch.randn(T, B, 3 * H, dtype=dt).transpose(0, 1), torch.randn(B, H, dtype=dt),
            torch.randn(3 * H, H, dtype=dt) / H ** 0.5, 1 + 0.3 * torch.randn(3 * H, dtype=dt),
            0.3 * torch.randn(3 * H, dtype=dt))


def ln_options(B, T, H, dt, zoneout, rdrop, padding):
    """h_mask, keep_h, valid as `gru._run` builds them, and ln=True (`run` adds eps)."""
    return (*options(B, T, H, dt, zoneout, rdrop, padding), True)


def assert_agree(got, want, shape, **tol):
    """A failure names the output or gradient (its item) and the shape."""
    named = lambda xs: dict(zip(NAMES, xs, strict=False))  # noqa: E731
    torch.testing.assert_close(named(got), named(want), **tol, msg=lambda m: f"{shape}: {m}")


@pytest.mark.parametrize("padding", [None, "lengths", "holes"])
@pytest.mark.parametrize("rdrop", [False, True], ids=["", "rdrop"])
@pytest.mark.parametrize("zoneout", sorted(ZONEOUT))
def test_native_equals_torch_loop(zoneout, rdrop, padding, blas):
    for seed, (B, T, H) in enumerate(SHAPES):
        torch.manual_seed(seed)
        args, opts = inputs(B, T, H, F64), ln_options(B, T, H, F64, zoneout, rdrop, padding)
        assert_agree(run(NativeLayerNormGRULoop, args, opts), run(GRULoop, args, opts), (B, T, H), rtol=0, atol=1e-10)


def test_float32_agrees(blas):
    """Outputs agree with `GRULoop`'s at 1e-5. The gradients are each held to the float64 result,
    as in the layer-norm LSTM's test: within 1e-6 of its largest entry (8 float32 ulps; `GRULoop`'s
    own float32 gradients are within 4.4e-7 here). Unlike the LSTM's, they stay small (at most 30),
    so the native loop's float64 gain sums do not make it closer than `GRULoop` here: both are
    round-off, each the closer one for some gradients and seeds."""
    torch.manual_seed(0)
    B, T, H = 4, 30, 40
    args, opts = inputs(B, T, H, torch.float32), ln_options(B, T, H, torch.float32, "draws", True, "lengths")
    wide = lambda xs: [x.double() if isinstance(x, torch.Tensor) else x for x in xs]  # noqa: E731
    exact = run(GRULoop, wide(args), wide(opts), projection=torch.float64)
    got, want = (run(fn, args, opts, projection=torch.float64) for fn in (NativeLayerNormGRULoop, GRULoop))
    assert_agree(got[:2], want[:2], (B, T, H), rtol=1e-5, atol=1e-5)
    for name, g, e in zip(NAMES[2:], got[2:], exact[2:], strict=True):
        error = (g.double() - e).abs().max()
        assert error <= 1e-6 * e.abs().max(), (name, error, e.abs().max())


@pytest.mark.parametrize("zoneout,rdrop,padding", [("none", False, None), ("draws", False, None),
                                                    ("eval", True, None), ("draws", True, "holes")])
def test_gradcheck(zoneout, rdrop, padding):
    torch.manual_seed(0)
    args = [a.detach().requires_grad_() for a in inputs(2, 3, 3, F64)]
    opts = ln_options(2, 3, 3, F64, zoneout, rdrop, padding)
    assert torch.autograd.gradcheck(lambda *a: NativeLayerNormGRULoop.apply(*a, *opts, EPS), args)


def test_batch_major_inputs_and_empty_shapes():
    torch.manual_seed(0)
    xp, *rest = inputs(2, 5, 3, F64)
    opts = (None, None, None, True)
    assert_agree(run(NativeLayerNormGRULoop, (xp.contiguous(), *rest), opts), run(GRULoop, (xp, *rest), opts),
                 "batch-major", rtol=0, atol=1e-10)
    args = inputs(0, 4, 3, F64)                                               # no sequences
    assert_agree(run(NativeLayerNormGRULoop, args, opts), run(GRULoop, args, opts), "B = 0")
    args = inputs(2, 0, 3, F64)                                               # no steps: both loops agree
    assert_agree(run(NativeLayerNormGRULoop, args, opts), run(GRULoop, args, opts), "T = 0")
    leaves = [a.detach().requires_grad_() for a in args]
    y, h = NativeLayerNormGRULoop.apply(*leaves, *opts, EPS)
    assert y.shape == (2, 0, 3) and torch.equal(h, leaves[1])
    grads = torch.autograd.grad(2 * h.sum(), leaves)
    assert grads[0].shape == (2, 0, 9) and grads[1].eq(2).all()
    assert all(g.eq(0).all() and g.shape == a.shape for g, a in zip(grads[2:], leaves[2:]))


def test_plain_gru_and_other_dtypes_are_refused():
    xp, h0, w, gain, shift = inputs(1, 2, 2, F64)
    with pytest.raises(ValueError, match="NativeGRULoop"):
        NativeLayerNormGRULoop.apply(xp, h0, w, gain, None, None, None, None, False, 0.0)
    with pytest.raises(ValueError, match="gain and shift"):
        NativeLayerNormGRULoop.apply(xp, h0, w, gain, None, None, None, None, True, EPS)
    with pytest.raises(TypeError, match="GRULoop"):
        NativeLayerNormGRULoop.apply(*(a.half() for a in (xp, h0, w, gain, shift)), None, None, None, True, EPS)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_smoke_runs(dtype):
    """What `kernels.backend.native` tries before it first picks this loop."""
    smoke(dtype)
