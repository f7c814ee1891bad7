"""The benchmark series, checked against their equations and against reservoirpy.datasets."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.chaos import mackey_glass, narma10


def test_mackey_glass_is_fourth_order() -> None:
    """Halving the step divides the error by about 16: RK4 with Hermite delay interpolation."""
    history = np.full(2000, 1.2)
    x10, x20, x80 = (mackey_glass(150, substeps=s, history=history) for s in (10, 20, 80))
    e10, e20 = np.abs(x10 - x80).max(), np.abs(x20 - x80).max()
    assert e10 < 1e-8 and 10 < e10 / e20 < 20


def test_mackey_glass_matches_reservoirpy_attractor() -> None:
    """reservoirpy 0.4.2 steps the delay equation with h = 1 and a frozen delayed term (its
    `_mg_rk4` is not a convergent scheme), so the series differ point by point; the attractor
    (range, mean, spread, the dominant period) agrees."""
    datasets = pytest.importorskip("reservoirpy.datasets")
    ours = mackey_glass(6000, discard=500, seed=0)
    theirs = datasets.mackey_glass(6500, tau=17, seed=0).ravel()[500:]
    assert ours.mean() == pytest.approx(theirs.mean(), rel=0.02)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.05)
    assert ours.min() == pytest.approx(theirs.min(), abs=0.05) and ours.max() == pytest.approx(theirs.max(), abs=0.05)
    peak = lambda s: np.argmax(np.abs(np.fft.rfft(s - s.mean()))[1:]) + 1
    assert peak(ours) == pytest.approx(peak(theirs), rel=0.05)


def test_mackey_glass_bad_input() -> None:
    with pytest.raises(ValueError, match="substeps"):
        mackey_glass(10, tau=17.05)


def test_narma10_follows_its_equation() -> None:
    u, y = narma10(300, seed=3)
    prev = np.concatenate([np.zeros(10), y])                                 # prev[t + 10] = y(t)... y(t+1)
    for t in range(20, 300):
        y_t = prev[t + 9]                                                    # y(t) = y[t - 1]
        want = 0.3 * y_t + 0.05 * y_t * prev[t:t + 10].sum() + 1.5 * u[t - 9] * u[t] + 0.1
        assert y[t] == pytest.approx(want, rel=1e-12)


def test_narma10_matches_reservoirpy_statistics() -> None:
    """reservoirpy's `narma(order=10)` sums y[t-10..t-1] and uses u[t-10] (one step further back
    than Atiya & Parlos' y(t-9..t) and u(t-9)), so only its statistics are comparable."""
    datasets = pytest.importorskip("reservoirpy.datasets")
    u, y = narma10(20000, seed=0)
    _, theirs = datasets.narma(20000, order=10, a1=0.3, a2=0.05, b=1.5, c=0.1, seed=0)
    assert y.mean() == pytest.approx(theirs.mean(), rel=0.03)
    assert y.std() == pytest.approx(theirs.std(), rel=0.15)
    assert u.min() >= 0 and u.max() <= 0.5


def test_narma10_divergence_is_an_error() -> None:
    with pytest.raises(ValueError, match="another seed"):
        narma10(12_000, seed=4)
