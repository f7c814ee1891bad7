"""The compiled GRU and Elman loops (`kernels.gru_native`, `kernels.elman_native`) against the
torch-op loops `GRULoop` and `ElmanLoop`: the same outputs and gradients for every combination of
padding, zoneout and recurrent dropout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.kernels._common import carry_weights
from rnnkit.kernels.elman import ElmanLoop
from rnnkit.kernels.elman_native import NativeElmanLoop
from rnnkit.kernels.gru import GRULoop
from rnnkit.kernels.gru_native import NativeGRULoop, available

pytestmark = pytest.mark.skipif(not available(), reason="needs numba on a little-endian machine")

F64 = torch.float64
ZONEOUT = {   # the weight of the old h, as `bptt_loop` receives it
    "none": lambda B, T, H, dt: None,
    "eval": lambda B, T, H, dt: (0.3,),                                        # expectation p
    "draws": lambda B, T, H, dt: (torch.bernoulli(torch.full((B, T, H), 0.3, dtype=dt)),),
}
SHAPES = [(1, 1, 1), (2, 5, 3), (3, 7, 8), (4, 6, 17), (1, 9, 33), (5, 3, 64)]   # (B, T, H): tails and SIMD bodies


def call_gru(fn, args, opts):
    xp, h0, w, *b = args
    return fn.apply(xp, h0, w, b[0] if b else None, None, *opts, False, 0.0)


LOOPS = {   # name: (native, reference, gates per hidden unit, has b_hh, apply)
    "gru": (NativeGRULoop, GRULoop, 3, True, call_gru),
    "gru_no_bias": (NativeGRULoop, GRULoop, 3, False, call_gru),
    "elman_tanh": (NativeElmanLoop, ElmanLoop, 1, False, lambda fn, args, opts: fn.apply(*args, *opts, False)),
    "elman_relu": (NativeElmanLoop, ElmanLoop, 1, False, lambda fn, args, opts: fn.apply(*args, *opts, True)),
}


def options(B, T, H, dt, zoneout, rdrop, padding):
    """h_mask, keep_h, valid, built as `gru._run` and `elman_loop` build them."""
    mask = None
    if padding == "lengths":
        mask = torch.arange(T)[None] < torch.randint(0, T + 1, (B,))[:, None]               # (B, T)
    elif padding == "holes":
        mask = torch.rand(B, T) < 0.6
    (keep_h,) = carry_weights(ZONEOUT[zoneout](B, T, H, dt), mask, torch.empty(0, dtype=dt), 1)
    h_mask = torch.bernoulli(torch.full((B, H), 0.6, dtype=dt)) / 0.6 if rdrop else None
    valid = None if mask is None else mask[:, :, None].to(dt)
    return h_mask, keep_h, valid


def inputs(loop, B, T, H, dt):
    """xp, h0, W_hh and (GRU) b_hh; W_hh at about torch's initial scale times 1.7 (see the LSTM tests)."""
    _, _, gates, bias, _ = LOOPS[loop]
    args = [torch.randn(B, T, gates * H, dtype=dt), torch.randn(B, H, dtype=dt),
            torch.randn(gates * H, H, dtype=dt) / H ** 0.5]
    return tuple(args + [torch.randn(gates * H, dtype=dt) / H ** 0.5] * bias)


def run(loop, fn, args, opts, grad=None):
    """Outputs and the gradients of a fixed random projection of them (or of `grad`, a function of
    the outputs) w.r.t. every argument in args."""
    leaves = [a.detach().clone().requires_grad_() for a in args]
    out = LOOPS[loop][4](fn, leaves, opts)
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, dtype=o.dtype, generator=g)).sum() for o in out) if grad is None \
        else grad(*out)
    return list(out) + list(torch.autograd.grad(loss, leaves))


def assert_agree(loop, args, opts, grad=None, scaled=False, **tol):
    """scaled: atol relative to each reference tensor's largest magnitude (float32 sums over steps and
    sequences, e.g. dW_hh of a ReLU RNN, round at that scale, not at each element's)."""
    native, reference = LOOPS[loop][:2]
    names = ["y", "h_T", "d_xp", "d_h0", "d_w_hh", "d_b_hh"]
    for name, g, w in zip(names, run(loop, native, args, opts, grad), run(loop, reference, args, opts, grad)):
        t = dict(tol, atol=tol["atol"] * max(1.0, w.abs().max().item())) if scaled else tol
        torch.testing.assert_close(g, w, **t, msg=lambda m, n=name: f"{loop} {n}: {m}")


@pytest.mark.parametrize("padding", [None, "lengths", "holes"])
@pytest.mark.parametrize("rdrop", [False, True], ids=["", "rdrop"])
@pytest.mark.parametrize("zoneout", sorted(ZONEOUT))
@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_native_equals_torch_loop(loop, zoneout, rdrop, padding, blas):
    for seed, (B, T, H) in enumerate(SHAPES):
        torch.manual_seed(seed)
        args, opts = inputs(loop, B, T, H, F64), options(B, T, H, F64, zoneout, rdrop, padding)
        assert_agree(loop, args, opts, rtol=0, atol=1e-10)


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_float32_agrees(loop, blas):
    torch.manual_seed(0)
    B, T, H = 4, 30, 40
    args = inputs(loop, B, T, H, torch.float32)
    assert_agree(loop, args, options(B, T, H, torch.float32, "draws", True, "lengths"), scaled=True,
                 rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("zoneout,rdrop,padding", [("none", False, None), ("draws", False, None),
                                                    ("eval", True, None), ("draws", True, "holes")])
@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_gradcheck(loop, zoneout, rdrop, padding):
    torch.manual_seed(0)
    args = [a.requires_grad_() for a in inputs(loop, 2, 3, 2, F64)]
    opts = options(2, 3, 2, F64, zoneout, rdrop, padding)
    assert torch.autograd.gradcheck(lambda *a: LOOPS[loop][4](LOOPS[loop][0], a, opts), args)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("loop", ["gru", "elman_tanh", "elman_relu"])
def test_padding_carries_the_state_exactly(loop, dtype):
    """Padded steps (carry 1) leave h bit for bit as it was, as torch.lerp does: the state after 33
    padded steps is the one after the last valid step (compared within one batch size: BLAS may
    sum in another order for another B)."""
    torch.manual_seed(0)
    B, T, H, short = 3, 40, 24, 7
    xp, *rest = inputs(loop, B, T, H, dtype)
    mask = torch.arange(T)[None] < torch.tensor([40, short, 1])[:, None]                # (B, T)
    (keep_h,) = carry_weights((0.1,), mask, xp, 1)
    steps = lambda t: LOOPS[loop][4](LOOPS[loop][0], (xp[:, :t], *rest),
                                     (None, keep_h[:, :t], mask[:, :t, None].to(dtype)))
    (y, h), (_, h_short) = steps(T), steps(short)
    assert torch.equal(h[1:], h_short[1:])
    assert torch.equal(h[1], y[1, short - 1]) and torch.equal(h[2], y[2, 0])
    assert not y[1, short:].any() and not y[2, 1:].any()


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_strided_inputs_and_gradients(loop):
    """Transposed xp, and output gradients in column-major order (which the loops must not take as
    row-major arrays)."""
    torch.manual_seed(0)
    xp, *rest = inputs(loop, 2, 5, 3, F64)
    xp = xp.transpose(0, 1).contiguous().transpose(0, 1)                      # (B, T, gH) = (2, 5, ·), strided
    weights = torch.randn(3, 2, dtype=F64).t(), torch.randn(3, 5, 2, dtype=F64).permute(2, 1, 0)
    grad = lambda y, h: (h * weights[0]).sum() + (y * weights[1]).sum()       # dL/dh (2, 3) in F order
    opts = (None, torch.rand(2, 5, 3, dtype=F64), torch.ones(2, 5, 1, dtype=F64))
    assert_agree(loop, (xp, *rest), opts, grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_empty_shapes(loop):
    native, reference, gates, bias, apply = LOOPS[loop]
    torch.manual_seed(0)
    args = inputs(loop, 0, 4, 3, F64)                                         # no sequences
    for g, w in zip(run(loop, native, args, (None,) * 3), run(loop, reference, args, (None,) * 3)):
        torch.testing.assert_close(g, w)
    args = inputs(loop, 2, 0, 3, F64)                                         # no steps: both loops agree
    for g, w in zip(run(loop, native, args, (None,) * 3), run(loop, reference, args, (None,) * 3)):
        torch.testing.assert_close(g, w)
    args = [a.requires_grad_() for a in args]
    y, h = apply(native, args, (None,) * 3)
    assert y.shape == (2, 0, 3) and torch.equal(h, args[1])
    grads = torch.autograd.grad(2 * h.sum(), args)
    assert grads[0].shape == (2, 0, 3 * gates) and grads[1].eq(2).all()
    assert all(g.eq(0).all() and g.shape == a.shape for g, a in zip(grads[2:], args[2:]))


def test_layer_norm_and_other_dtypes_are_refused():
    xp, h0, w, b = inputs("gru", 1, 2, 2, F64)
    with pytest.raises(ValueError, match="GRULoop"):
        NativeGRULoop.apply(xp, h0, w, torch.ones(6, dtype=F64), b, None, None, None, True, 1e-5)
    with pytest.raises(TypeError, match="ElmanLoop"):
        NativeElmanLoop.apply(*(a.half() for a in inputs("elman_tanh", 1, 2, 2, F64)), None, None, None, False)


@pytest.mark.parametrize("T", [1, 2, 6])
def test_gru_inference_keeps_one_step_and_gives_the_training_outputs(T):
    """Without backward the GRU loop rewrites one step of gates and h_n: the outputs equal the call
    that keeps everything, bit for bit (zoneout draws, recurrent dropout and padding on)."""
    torch.manual_seed(T)
    args, opts = inputs("gru", 3, T, 5, F64), options(3, T, 5, F64, "draws", True, "lengths")
    train = call_gru(NativeGRULoop, [a.clone().requires_grad_() for a in args], opts)
    infer = call_gru(NativeGRULoop, args, opts)
    assert train[0].grad_fn.saved_tensors[4].shape == (3, T, 15)             # acts, all steps
    for got, want in zip(infer, train, strict=True):
        assert torch.equal(got, want.detach())


def test_a_packed_w_hh_gives_the_plain_gemms_results(monkeypatch):
    """MKL's packed GEMM (W_hh packed once per call, `_blas.packed_weight`) against the plain ?gemm
    every step: the same outputs and gradients, float32 (the only dtype torch's MKL packs; bit for
    bit on the Xeon it was measured on, held to float32 round-off here since MKL promises no
    more); skipped where torch's library has no packed GEMM."""
    from rnnkit.kernels import _blas, _native_common
    from rnnkit.kernels.gru_native import NativeGRULoop

    if _blas._packed(np.float32) is None:
        pytest.skip("torch's BLAS here has no packed GEMM")
    torch.manual_seed(0)
    B, T, H = 8, 12, 64
    xp, h0 = torch.randn(B, T, 3 * H, requires_grad=True), torch.randn(B, H, requires_grad=True)
    w, bias = (torch.randn(3 * H, H) / H ** 0.5).requires_grad_(), torch.randn(3 * H, requires_grad=True)
    results = []
    for packed in (True, False):
        if not packed:
            monkeypatch.setattr(_native_common, "PACK_MIN_STEPS", T + 1)
        assert (_native_common.blas_args(w, torch.float32, True, B, T)[2].size > 0) == packed
        y, h = NativeGRULoop.apply(xp, h0, w, bias, None, None, 0.1, None, False, 0.0)
        results.append([y, h, *torch.autograd.grad((y * y).sum() + h.sum(), (xp, h0, w, bias))])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.parametrize("zoneout", sorted(ZONEOUT))
@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_with_a_team_equals_the_torch_loop_and_one_thread(loop, zoneout, dtype, monkeypatch):
    """The loops' row passes split over two of torch's threads (`kernels._teams`, forced at every
    size here): in float64 the torch loop's results at 1e-10, and in both dtypes the one-thread
    loop's bit for bit, training and (no gradient: one step kept) inference."""
    from rnnkit.kernels import _teams

    if _teams.pool() is None:
        pytest.skip("torch here has no libgomp")
    native = LOOPS[loop][0]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        for seed, (B, T, H) in enumerate([(2, 5, 3), (5, 3, 64), (7, 12, 40)]):
            torch.manual_seed(seed)
            for rdrop, padding in ((False, None), (True, "holes")):
                args, opts = inputs(loop, B, T, H, dtype), options(B, T, H, dtype, zoneout, rdrop, padding)
                results = []
                for least, threads in ((0, 2), (10 ** 9, 1)):
                    monkeypatch.setattr(_teams, "MIN_ROW_WORK", least)
                    assert _teams.team(B, H) == threads
                    if threads == 2 and dtype == F64:
                        assert_agree(loop, args, opts, rtol=0, atol=1e-10)
                    with torch.no_grad():
                        infer = LOOPS[loop][4](native, args, opts)
                    results.append(run(loop, native, args, opts) + list(infer))
                assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))
    finally:
        torch.set_num_threads(before)
