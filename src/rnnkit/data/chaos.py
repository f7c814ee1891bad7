"""Benchmark series for echo state networks, written from their equations.

    x = mackey_glass(10_000, tau=17)          # (T,) float64, sampled every `sample_step` time units
    u, y = narma10(2_000, seed=0)             # (T,) input, (T,) target
"""

from __future__ import annotations

import numpy as np


def mackey_glass(steps: int, *, tau: float = 17.0, a: float = 0.2, b: float = 0.1, n: float = 10.0,
                 x0: float = 1.2, sample_step: float = 1.0, substeps: int = 10, discard: int = 0,
                 history: np.ndarray | None = None, seed: int | None = 0) -> np.ndarray:
    """The Mackey-Glass delay differential equation (Mackey & Glass 1977),

        dx/dt = a x(t - tau) / (1 + x(t - tau)^n) - b x(t),

    integrated with classical RK4 at step dt = sample_step / substeps and sampled every
    `sample_step` time units (Jaeger 2001, GMD Report 148: step 1/10, subsampled by 10).
    The delayed value at RK4's half steps lies between two stored points; it is taken from the
    cubic Hermite interpolant through their values and derivatives, so the scheme stays fourth
    order (the method of steps with dense output; Bellen & Zennaro 2003, ch. 3). The history is
    taken as piecewise linear between its points.

    history: x on [-tau, 0) at the integration grid (tau / dt values); by default x0 plus
    uniform noise in [-0.1, 0.1] drawn with `seed` (the same start as reservoirpy's).
    `discard` samples of initial transient are dropped. Returns (steps,) float64.
    """
    if steps < 1 or substeps < 1 or discard < 0:
        raise ValueError(f"steps and substeps must be >= 1 and discard >= 0, got {steps}, {substeps}, {discard}")
    if tau <= 0 or sample_step <= 0:
        raise ValueError(f"tau and sample_step must be positive, got tau={tau}, sample_step={sample_step}")
    dt = sample_step / substeps
    lag = round(tau / dt)
    if abs(lag * dt - tau) > 1e-9 * tau:
        raise ValueError(f"tau={tau} is not a whole number of integration steps dt={dt}; choose substeps "
                         "so that tau * substeps / sample_step is an integer")
    if history is None:
        rng = np.random.default_rng(seed)
        history = x0 + 0.2 * (rng.random(lag) - 0.5)
    history = np.asarray(history, dtype=np.float64).ravel()
    if history.size < lag:
        raise ValueError(f"history needs tau / dt = {lag} values, got {history.size}")

    def f(x: float, xd: float) -> float:
        return a * xd / (1.0 + xd ** n) - b * x

    total = (steps + discard) * substeps
    xs = np.empty(lag + total + 1)                      # x on the grid, the history first
    xs[:lag] = history[-lag:]
    xs[lag] = x0
    ds = np.zeros_like(xs)                              # dx/dt on the grid, for Hermite interpolation
    for i in range(lag, lag + total):
        j = i - lag
        d0, d1 = xs[j], xs[j + 1]                        # x(t - tau), x(t + dt - tau)
        dmid = 0.5 * (d0 + d1)                           # the history is piecewise linear, and
        if j >= lag:                                     # past it: cubic Hermite midpoint
            dmid += dt * (ds[j] - ds[j + 1]) / 8.0
        x = xs[i]
        k1 = f(x, d0)
        k2 = f(x + 0.5 * dt * k1, dmid)
        k3 = f(x + 0.5 * dt * k2, dmid)
        k4 = f(x + dt * k3, d1)
        ds[i] = k1
        xs[i + 1] = x + dt * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
    samples = xs[lag::substeps][: steps + discard]
    return samples[discard:].copy()


def narma10(steps: int, *, seed: int | None = 0, u: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The tenth-order NARMA system (Atiya & Parlos 2000, eq. 37),

        y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{9} y(t-i) + 1.5 u(t-9) u(t) + 0.1,

    with u(t) ~ U[0, 0.5] i.i.d. (drawn with `seed` unless given) and y = 0 before t = 0.
    Returns u (steps,) and the target y (steps,) with y[t] = y(t+1), so a model reads u up to
    time t and predicts y[t]. Some input draws make the recurrence blow up (3 of 30 seeds at
    12,000 steps); that is a ValueError, so the caller can draw another seed.
    """
    if u is None:
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        u = np.random.default_rng(seed).uniform(0.0, 0.5, size=steps)
    u = np.asarray(u, dtype=np.float64).ravel()
    up = np.concatenate([np.zeros(9), u])               # up[t + 9] = u(t); u = 0 before t = 0
    y = np.zeros(u.size + 10)                            # y[t + 9] = y(t); y = 0 before t = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(u.size):
            k = t + 9
            y[k + 1] = 0.3 * y[k] + 0.05 * y[k] * y[k - 9:k + 1].sum() + 1.5 * up[k - 9] * up[k] + 0.1
            if not abs(y[k + 1]) < 10.0:                 # a bounded run stays below about 1.5
                raise ValueError(f"NARMA10 diverged at step {t} for this input (seed={seed}): the "
                                 "recurrence is unstable for some input sequences; use another seed")
    return u, y[10:].copy()
