"""Closed-form ridge regression for echo state network readouts (Lukoševičius 2012, section 4.1).

    ridge = Ridge(features=500, outputs=1, alpha=1e-6)
    for states, targets in batches:              # (N, F), (N, O): any number of calls
        ridge.update(states, targets)
    weight, bias = ridge.solve()                 # (O, F), (O,)

Only X^T X and X^T Y are kept (float64), so memory does not grow with the length of the data.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

_ILL_CONDITIONED = 1e14  # condition estimate (from the Cholesky diagonal) beyond float64's reach


class Ridge:
    """Accumulates the normal equations of W_out = argmin |Y - X W^T - b|^2 + alpha |W|^2.

    The bias (when `bias=True`) is not penalised: the data are augmented with a column of ones
    whose diagonal entry gets no alpha. Sums are float64 whatever the input dtype.
    """

    def __init__(self, features: int, outputs: int, *, alpha: float = 1e-6, bias: bool = True,
                 device: torch.device | str | None = None) -> None:
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0 (typical values 1e-8 to 1e-2), got {alpha}")
        self.features, self.outputs, self.alpha, self.bias = features, outputs, float(alpha), bias
        n = features + int(bias)
        self.xtx = torch.zeros(n, n, dtype=torch.float64, device=device)             # (F+1, F+1)
        self.xty = torch.zeros(n, outputs, dtype=torch.float64, device=device)       # (F+1, O)
        self.samples = 0

    def update(self, x: Tensor, y: Tensor) -> None:
        """Adds rows x: (N, F) with targets y: (N, O)."""
        if x.dim() != 2 or x.size(1) != self.features:
            raise ValueError(f"expected states of shape (samples, {self.features}), got {tuple(x.shape)}")
        if y.dim() != 2 or y.size(1) != self.outputs or y.size(0) != x.size(0):
            raise ValueError(f"expected targets of shape ({x.size(0)}, {self.outputs}) to match the states, "
                             f"got {tuple(y.shape)}")
        x, y = x.to(self.xtx), y.to(self.xtx)
        n = self.features
        if x.device.type == "cpu":
            a = x.numpy()
            self.xtx[:n, :n] += torch.from_numpy(a.T @ a)   # numpy spots a.T @ a and runs syrk: half the flops
        else:
            self.xtx[:n, :n].addmm_(x.t(), x)
        self.xty[:n].addmm_(x.t(), y)
        if self.bias:       # the products with the column of ones are sums: no (N, F+1) copy of x
            sums = x.sum(0)
            self.xtx[:n, n] += sums
            self.xtx[n, :n] += sums
            self.xtx[n, n] += x.size(0)
            self.xty[n] += y.sum(0)
        self.samples += x.size(0)

    def solve(self) -> tuple[Tensor, Tensor | None]:
        """Returns (weight (O, F), bias (O,) or None), float64. An ill-conditioned system is
        regularised further (with a warning) instead of returning NaN or inf."""
        if self.samples == 0:
            raise ValueError("Ridge.solve() before any update(): there is no data to fit")
        if self.samples < self.outputs:
            raise ValueError(f"{self.outputs} outputs but only {self.samples} samples; targets must be "
                             "(samples, outputs): did you pass them transposed?")
        a = self.xtx.clone()
        penalty = torch.full((a.size(0),), self.alpha, dtype=a.dtype, device=a.device)
        if self.bias:
            penalty[-1] = 0.0
        a.diagonal().add_(penalty)
        w = _solve_spd(a, self.xty, self.alpha)                                        # (F+1, O)
        weight = w[: self.features].t().contiguous()
        return weight, (w[-1].clone() if self.bias else None)


def _solve_spd(a: Tensor, b: Tensor, alpha: float) -> Tensor:
    """Cholesky solve of the symmetric system a w = b; on failure or a huge condition estimate,
    adds jitter (growing tenfold) to the diagonal and warns with the alpha to use instead."""
    scale = float(a.diagonal().abs().max().clamp(min=1e-300))
    jitter = 0.0
    for _ in range(20):
        m = a if jitter == 0.0 else a + jitter * torch.eye(a.size(0), dtype=a.dtype, device=a.device)
        factor, info = torch.linalg.cholesky_ex(m)
        if int(info) == 0:
            d = factor.diagonal()
            condition = float((d.max() / d.min().clamp(min=1e-300)) ** 2)   # cheap estimate from L
            if condition < _ILL_CONDITIONED:
                w = torch.cholesky_solve(b, factor)
                if torch.isfinite(w).all():
                    if jitter:
                        warnings.warn(f"the readout system is ill-conditioned (alpha={alpha:g}); added "
                                      f"{jitter:.3g} to the diagonal. Pass alpha >= {jitter:.3g}, or use fewer "
                                      "or less correlated features", RuntimeWarning, stacklevel=3)
                    return w
        jitter = max(jitter * 10, scale * 1e-12)
    raise ValueError(f"the readout system could not be solved even with jitter {jitter:g}; the states are "
                     "probably not finite (check the input scaling and spectral radius)")
