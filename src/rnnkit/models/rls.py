"""Online readout training: recursive least squares, the learning rule of FORCE (Sussillo & Abbott 2009).

    rls = RLS(features=500, outputs=1, alpha=1e-6)
    for x_t, y_t in stream:                      # (F,) or (N, F) rows, one at a time
        rls.update(x_t, y_t)
    rls.weight, rls.bias                         # (O, F), (O,)

With P_0 = I / alpha and no forgetting, after n samples the weights are exactly the ridge
solution on those samples (the penalty alpha |W|^2 includes the bias here), up to rounding.
"""

from __future__ import annotations

import torch
from torch import Tensor


class RLS:
    """Recursive least squares (Haykin, Adaptive Filter Theory, ch. 10) on float64 rows:

        k = P x / (lambda + x^T P x);  e = y - W x;  W += e k^T;  P = (P - k x^T P) / lambda

    `forgetting` lambda in (0, 1] discounts old samples (1 = none). FORCE learning runs this
    while the network is driven by its own (fed-back) output.
    """

    def __init__(self, features: int, outputs: int, *, alpha: float = 1.0, bias: bool = True,
                 forgetting: float = 1.0) -> None:
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0 (P starts as I / alpha; FORCE uses about 1), got {alpha}")
        if not 0 < forgetting <= 1:
            raise ValueError(f"forgetting must be in (0, 1] (1 = remember everything), got {forgetting}")
        self.features, self.outputs, self.fit_bias, self.forgetting = features, outputs, bias, float(forgetting)
        n = features + int(bias)
        self.p = torch.eye(n, dtype=torch.float64) / alpha                      # (F+1, F+1)
        self.w = torch.zeros(outputs, n, dtype=torch.float64)                   # (O, F+1)

    @property
    def weight(self) -> Tensor:
        return self.w[:, : self.features]

    @property
    def bias(self) -> Tensor | None:
        return self.w[:, -1] if self.fit_bias else None

    def predict(self, x: Tensor) -> Tensor:
        """x: (N, F) -> (N, O) with the current weights."""
        return self._augment(x) @ self.w.t()

    def update(self, x: Tensor, y: Tensor) -> Tensor:
        """Feeds rows x: (N, F) or (F,) with targets (N, O) or (O,), one after the other.
        Returns the a-priori errors (before each update), (N, O)."""
        x, y = self._augment(x.reshape(-1, self.features)), y.reshape(-1, self.outputs).to(torch.float64)
        if x.size(0) != y.size(0):
            raise ValueError(f"got {x.size(0)} state rows but {y.size(0)} target rows")
        errors = torch.empty_like(y)
        lam = self.forgetting
        for i in range(x.size(0)):
            xi = x[i]                                                            # (F+1,)
            px = self.p @ xi
            k = px / (lam + xi @ px)
            errors[i] = y[i] - self.w @ xi
            self.w.add_(torch.outer(errors[i], k))
            self.p.sub_(torch.outer(k, px)).div_(lam)
        return errors

    def _augment(self, x: Tensor) -> Tensor:
        x = x.to(torch.float64)
        if x.size(-1) != self.features:
            raise ValueError(f"expected {self.features} features, got shape {tuple(x.shape)}")
        return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], dim=-1) if self.fit_bias else x
