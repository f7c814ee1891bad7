"""Echo state networks: reservoir, ridge and RLS readouts, closed loop, classification."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit import Recurrent, ReservoirCell, Stacked
from rnnkit.cells.base import Cell
from rnnkit.cells.reservoir import spectral_radius
from rnnkit.kernels import reservoir as reservoir_kernel
from rnnkit.kernels import reservoir_loop
from rnnkit.models.esn import EchoStateClassifier, EchoStateNetwork
from rnnkit.models.ridge import Ridge
from rnnkit.models.rls import RLS

F64 = torch.float64


def reservoir(i: int = 2, h: int = 30, **kw) -> ReservoirCell:
    kw = {"spectral_radius": 0.9, "leak": 0.5, "bias_scaling": 0.2, "seed": 3, **kw}
    return ReservoirCell(i, h, **kw).double()


@pytest.mark.parametrize("size", [40, 300])          # exact eigenvalues / ARPACK (> 200)
def test_spectral_radius_is_as_asked(size: int) -> None:
    cell = ReservoirCell(1, size, spectral_radius=1.25, density=0.05, seed=0, dtype=F64)
    rho = float(np.abs(np.linalg.eigvals(cell.weight_hh.numpy())).max())
    assert rho == pytest.approx(1.25, rel=1e-6)
    assert spectral_radius(cell.weight_hh) == pytest.approx(1.25, rel=1e-6)
    assert float((cell.weight_hh != 0).double().mean()) == pytest.approx(0.05, rel=0.15)


def test_seeded_and_not_trained() -> None:
    a, b = reservoir(seed=7), reservoir(seed=7)
    assert torch.equal(a.weight_hh, b.weight_hh) and torch.equal(a.weight_ih, b.weight_ih)
    assert not torch.equal(a.weight_hh, reservoir(seed=8).weight_hh)
    assert list(a.parameters()) == [] and {n for n, _ in a.named_buffers()} == {"weight_ih", "weight_hh", "bias"}
    g = torch.Generator().manual_seed(5)
    assert torch.equal(ReservoirCell(1, 9, generator=g).weight_hh,
                       ReservoirCell(1, 9, generator=torch.Generator().manual_seed(5)).weight_hh)


@pytest.mark.parametrize("size,dtype", [(30, F64), (300, F64), (300, torch.float32), (1200, torch.float32)])
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("batch", [3, 1])
@pytest.mark.parametrize("loop,density", [("numba", 0.1), ("numba", 1.0), ("interpreted", 0.1)])
def test_fast_scan_equals_reference(size: int, dtype: torch.dtype, with_mask: bool, batch: int, loop: str,
                                    density: float, monkeypatch) -> None:
    """The numba loop (W as CSR or dense), the numpy loops (dense; scipy CSR for one sequence) and
    the torch CSR loop all equal the step() loop."""
    if loop == "numba":
        pytest.importorskip("numba")
        monkeypatch.setattr(reservoir_kernel, "_COMPILED_LOOP_UP_TO", 10**9)      # every size
    else:
        monkeypatch.setattr(reservoir_loop, "available", lambda: False)
    cell = reservoir(3, size, density=density).to(dtype)
    x = torch.randn(batch, 9, 3, dtype=dtype)
    h0 = (torch.randn(batch, size, dtype=dtype) * 0.1,)
    mask = torch.arange(9)[None, :] < torch.tensor([4, 9, 0][:batch])[:, None] if with_mask else None
    tol = {"atol": 1e-12, "rtol": 1e-10} if dtype == F64 else {"atol": 1e-5, "rtol": 1e-5}
    fast, ref = cell.scan(x, h0, mask), Cell.reference_scan(cell, x, h0, mask)
    torch.testing.assert_close(fast, ref, **tol)


def test_padding_invariance_through_recurrent() -> None:
    layer = Recurrent(reservoir(3, 20))
    x = torch.randn(2, 6, 3, dtype=F64)
    y, state = layer(x, lengths=torch.tensor([6, 4]))
    y_short, state_short = layer(x[1:, :4])
    torch.testing.assert_close(y[1, :4], y_short[0])
    torch.testing.assert_close(state[0][1], state_short[0][0])
    assert (y[1, 4:] == 0).all()


def test_states_equal_reservoirpy() -> None:
    """The same W, W_in and bias in both libraries give the same states to 1e-10 (float64)."""
    rpy = pytest.importorskip("reservoirpy.nodes")
    res = rpy.Reservoir(80, lr=0.3, sr=1.25, input_scaling=0.7, bias=0.1, seed=42)
    u = np.sin(np.arange(300) / 7.0)[:, None] * np.cos(np.arange(300) / 23.0)[:, None]
    expected = res.run(u)                                                    # (T, H), initialises W
    dense = lambda m: m.toarray() if hasattr(m, "toarray") else np.asarray(m)
    bias = np.broadcast_to(dense(res.bias).ravel(), (80,)).copy()
    cell = ReservoirCell.from_weights(torch.tensor(dense(res.Win)), torch.tensor(dense(res.W)),
                                      torch.tensor(bias), leak=0.3)
    y, _ = Recurrent(cell)(torch.tensor(u)[None])
    np.testing.assert_allclose(y[0].numpy(), expected, atol=1e-10, rtol=0)
    big = rpy.Reservoir(600, lr=0.5, sr=0.9, seed=1)                         # CSR path in float64
    expected = big.run(u)
    cell = ReservoirCell.from_weights(torch.tensor(dense(big.Win)), torch.tensor(dense(big.W)), leak=0.5)
    np.testing.assert_allclose(Recurrent(cell)(torch.tensor(u)[None])[0][0].numpy(), expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("bias", [False, True])
def test_ridge_equals_lstsq_on_augmented_system(bias: bool) -> None:
    rng = np.random.default_rng(0)
    x, y, alpha = rng.normal(size=(200, 12)), rng.normal(size=(200, 3)), 0.7
    ridge = Ridge(12, 3, alpha=alpha, bias=bias)
    for chunk in np.array_split(np.arange(200), 5):                         # several batches
        ridge.update(torch.tensor(x[chunk]), torch.tensor(y[chunk]))
    weight, b = ridge.solve()
    a = np.hstack([x, np.ones((200, 1))]) if bias else x
    reg = np.sqrt(alpha) * np.eye(a.shape[1])
    if bias:
        reg[-1, -1] = 0.0                                                    # the bias is not penalised
    w, *_ = np.linalg.lstsq(np.vstack([a, reg]), np.vstack([y, np.zeros((a.shape[1], 3))]), rcond=None)
    np.testing.assert_allclose(weight.numpy(), w[:12].T, atol=1e-10)
    if bias:
        np.testing.assert_allclose(b.numpy(), w[12], atol=1e-10)


def test_ridge_ill_conditioned_warns_and_stays_finite() -> None:
    x = torch.randn(50, 1, dtype=F64).repeat(1, 4)                           # rank 1
    ridge = Ridge(4, 1, alpha=0.0)
    ridge.update(x, x[:, :1] * 2)
    with pytest.warns(RuntimeWarning, match="alpha"):
        weight, bias = ridge.solve()
    assert torch.isfinite(weight).all() and torch.isfinite(bias).all()
    torch.testing.assert_close(x @ weight.t() + bias, x[:, :1] * 2, atol=1e-5, rtol=0)


def test_ridge_bad_input() -> None:
    with pytest.raises(ValueError, match="alpha"):
        Ridge(3, 1, alpha=-1.0)
    ridge = Ridge(3, 5)
    ridge.update(torch.randn(2, 3), torch.randn(2, 5))
    with pytest.raises(ValueError, match="transposed"):
        ridge.solve()


def test_rls_converges_to_ridge() -> None:
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(300, 8)))
    y = x @ torch.tensor(rng.normal(size=(8, 2))) + 0.1 * torch.tensor(rng.normal(size=(300, 2)))
    x1 = torch.cat([x, torch.ones(300, 1, dtype=F64)], 1)                  # bias as a penalised column
    rls = RLS(9, 2, alpha=0.5, bias=False)
    rls.update(x1, y)
    ridge = Ridge(9, 2, alpha=0.5, bias=False)
    ridge.update(x1, y)
    torch.testing.assert_close(rls.weight, ridge.solve()[0], atol=1e-9, rtol=1e-9)


def test_bad_reservoir_options_say_what_to_change() -> None:
    for kw, word in [({"spectral_radius": 0.0}, "spectral_radius"), ({"density": 0.0}, "density"),
                     ({"density": 1.5}, "density"), ({"leak": 0.0}, "leak"), ({"leak": 1.2}, "leak")]:
        with pytest.raises(ValueError, match=word):
            ReservoirCell(1, 10, **kw)


def test_washout_too_long_is_an_error() -> None:
    esn = EchoStateNetwork(Recurrent(reservoir(1, 10)), 1)
    with pytest.raises(ValueError, match="washout"):
        esn.fit(torch.randn(1, 20, 1, dtype=F64), torch.randn(1, 20, 1, dtype=F64), washout=20)


def sine(steps: int) -> torch.Tensor:
    t = torch.arange(steps, dtype=F64)
    return (torch.sin(t / 4) * 0.5 + 0.3 * torch.sin(t / 9))[None, :, None]      # (1, T, 1)


def test_closed_loop_first_step_equals_teacher_forced() -> None:
    s = sine(400)
    for fb in (False, True):
        cell = reservoir(1, 60, feedback_size=1) if fb else reservoir(1, 60)
        esn = EchoStateNetwork(Recurrent(cell), 1, input_to_readout=not fb)
        inputs = s[:, :, :0] if fb else s[:, :-1]
        esn.fit(inputs[:, :300], s[:, 1:301], alpha=1e-8, washout=50)
        teach = {"feedback": s[:, :300]} if fb else {}
        y_tf, _ = esn(inputs[:, :300], **teach)                               # predicts s[1..300]
        y_head, state = esn(inputs[:, :299], **{k: v[:, :299] for k, v in teach.items()})
        y_gen, _ = esn.generate(30, state=state, last=s[:, 299])                # predicts s[300..329]
        torch.testing.assert_close(y_gen[:, 0], y_tf[:, 299], atol=1e-12, rtol=0)
        assert (y_gen[0, :, 0] - s[0, 300:330, 0]).abs().max() < 0.05          # and it tracks the sine


def test_deep_esn_and_classifier() -> None:
    deep = Stacked([Recurrent(reservoir(1, 30, seed=1)), Recurrent(reservoir(30, 20, seed=2))])
    esn = EchoStateNetwork(deep, 1, input_to_readout=True)
    s = sine(300)
    esn.fit(s[:, :-1], s[:, 1:], alpha=1e-8, washout=30)
    y, state = esn(s[:, :-1])
    assert len(state) == 2 and esn.readout.in_features == 51
    assert (y[0, 30:, 0] - s[0, 31:, 0]).abs().max() < 1e-2
    # two classes: slow vs fast sines of random phase, variable lengths
    t = torch.arange(25, dtype=F64)
    labels = torch.arange(40) % 2
    x = torch.stack([torch.sin(t * (0.3 + 0.5 * int(c)) + float(p)) for c, p in zip(labels, torch.rand(40) * 6)])
    lengths = torch.randint(12, 26, (40,))
    clf = EchoStateClassifier(Recurrent(reservoir(1, 40)), 2, pool="mean_last").fit(x[:, :, None], labels,
                                                                                    lengths=lengths)
    assert (clf(x[:, :, None], lengths=lengths)[0].argmax(1) == labels).float().mean() > 0.95


def test_force_learning_generates_the_sine() -> None:
    """FORCE (Sussillo & Abbott 2009): RLS while the reservoir hears its own output; afterwards
    the closed loop keeps producing the target."""
    s = 0.5 * torch.sin(torch.arange(1100, dtype=F64) / 8)[None, :, None]             # (1, T, 1)
    esn = EchoStateNetwork(Recurrent(reservoir(1, 100, feedback_size=1, spectral_radius=1.2, leak=1.0)), 1)
    rls = RLS(100, 1, alpha=1.0)
    out, state = esn.fit_online(rls, s[:, :1000, :0], s[:, :1000], washout=50, force=True)
    assert (out[0, 900:, 0] - s[0, 900:1000, 0]).abs().max() < 0.02
    future, _ = esn.generate(50, state=state, last=out[:, -1])
    assert (future[0, :, 0] - s[0, 1000:1050, 0]).abs().max() < 0.1


def test_adaptive_thread_count_keeps_the_faster_and_changes_no_result(monkeypatch) -> None:
    """Above _ONE_THREAD_UP_TO the torch loop times a few steps on all threads and on one and goes
    on with the faster; a fake clock makes 'faster' deterministic here."""
    calls: list[tuple[int, int, int]] = []
    now = [0.0]

    def run(start: int, stop: int) -> None:
        calls.append((start, stop, torch.get_num_threads()))
        now[0] += (stop - start) * per_step[torch.get_num_threads() > 1]

    monkeypatch.setattr(reservoir_kernel, "_PROBE_STEPS", 4)
    monkeypatch.setattr(reservoir_kernel, "_REPROBE_EVERY", 20)
    per_step = {True: 5.0, False: 1.0}                      # two threads stalled by a busy core
    assert reservoir_kernel._adaptive(70, run, 2, clock=lambda: now[0]) == [1, 1, 1]
    covered = sorted((a, b) for a, b, _ in calls)
    assert covered[0][0] == 0 and covered[-1][1] == 70 and all(x[1] == y[0] for x, y in zip(covered, covered[1:]))
    per_step = {True: 1.0, False: 2.0}                      # an idle machine: two threads win
    calls.clear()
    assert reservoir_kernel._adaptive(70, run, 2, clock=lambda: now[0]) == [2, 2, 2]
    # the real loop, probing every 20 steps, equals the one-thread loop exactly
    cell = reservoir(2, 1100, density=0.05)
    pre = torch.randn(2, 60, 1100, dtype=F64)
    h0 = torch.randn(2, 1100, dtype=F64) * 0.1
    mask = torch.arange(60)[None, :] < torch.tensor([60, 33])[:, None]
    w = reservoir_kernel._recurrent_matrix(cell)
    for b in (slice(0, 1), slice(0, 2)):
        for m in (None, mask[b]):
            one = reservoir_kernel._torch_loop(pre[b], h0[b], w, 0.3, m, threads=1)
            both = reservoir_kernel._torch_loop(pre[b], h0[b], w, 0.3, m, threads=2)
            assert torch.equal(one, both)
