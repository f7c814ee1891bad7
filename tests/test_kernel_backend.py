"""The choice of CPU backend for the BPTT loops (rnnkit.kernels.backend): native by default, the
Python loops on request, and a fallback with one line on stderr where the native loops fail to
build, giving the same numbers."""

from __future__ import annotations

import time

import pytest
import torch

from rnnkit import LSTMCell, Recurrent, Zoneout
from rnnkit.kernels import backend
from rnnkit.kernels.lstm_native import NativeLSTMLoop


@pytest.fixture
def fresh():
    backend.reset()
    yield
    backend.reset()


def train_step(layer: Recurrent, x: torch.Tensor) -> tuple[str, list[torch.Tensor]]:
    torch.manual_seed(3)
    y, _ = layer(x)
    y.sum().backward()
    grads = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    return type(y.grad_fn).__name__, [y.detach(), *grads]


def test_native_is_the_default_and_python_is_one_switch_away(fresh):
    layer = Recurrent(Zoneout(LSTMCell(3, 4), 0.2)).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    assert backend.current() == "native"
    native_kind, native = train_step(layer, x)
    with backend.using("python"):
        python_kind, python = train_step(layer, x)
    assert native_kind == "NativeLSTMLoopBackward" and python_kind == "LSTMLoopBackward"
    for a, b in zip(native, python):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match=r"must be one of \['native', 'python'\], got 'fast'"):
        backend.set_backend("fast")


def test_a_native_build_failure_warns_once_in_one_line_and_runs_the_python_loops(fresh, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("no LLVM target for this machine\nsecond line")

    monkeypatch.setattr(NativeLSTMLoop, "forward", staticmethod(broken))
    layer = Recurrent(Zoneout(LSTMCell(3, 4), 0.2)).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    kind, fallback = train_step(layer, x)
    kind_again, _ = train_step(layer, x)
    err = capsys.readouterr().err
    assert kind == kind_again == "LSTMLoopBackward"
    assert err.count("\n") == 1 and "native CPU loops are unavailable (RuntimeError: no LLVM target" in err
    with backend.using("python"):
        _, python = train_step(layer, x)
    for a, b in zip(fallback, python):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_the_gpu_and_other_dtypes_never_take_the_native_loops(fresh):
    smoke = lambda dtype: pytest.fail("no smoke test should run")   # noqa: E731
    assert not backend.native("lstm", torch.zeros(1, dtype=torch.bfloat16), smoke)
    assert not backend.native("lstm", torch.zeros(1, dtype=torch.float64, device="meta"), smoke)
    with backend.using("python"):
        assert not backend.native("lstm", torch.zeros(1), smoke)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not backend.native("lstm", torch.zeros(1), smoke)


def test_a_slow_first_try_says_it_is_compiling_and_how_long_it_took(fresh, monkeypatch, capsys):
    monkeypatch.setattr(backend, "NOTICE_AFTER_S", 0.05)
    like = torch.zeros(1, dtype=torch.float64)
    assert backend.native("slow", like, lambda dtype: time.sleep(0.3))
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].startswith("rnnkit: compiling the native CPU loop for slow (float64)")
    assert err[1].startswith("rnnkit: ... slow (float64) compiled in ") and err[1].endswith(" s")
    assert backend.native("slow", like, lambda dtype: time.sleep(0.3))          # tried once: no second try
    assert backend.native("fast", like, lambda dtype: None)                     # quick (cached): silent
    assert capsys.readouterr().err == ""


def test_a_first_try_leaves_the_callers_random_numbers_alone(fresh):
    # else dropout masks after it would depend on whether the process had tried the kernel before
    # (the second of two runs in one process, a resumed run)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    assert backend.native("lstm", torch.zeros(1), lambda dtype: torch.randn(5, dtype=dtype))
    assert torch.equal(torch.get_rng_state(), before)
