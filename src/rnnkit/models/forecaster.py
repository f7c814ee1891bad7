"""A global forecaster: a recurrent encoder reads the input window, a linear head emits the whole
horizon at once (direct multi-horizon), as distribution parameters for each future step.

    model = Forecaster(build_rnn(cfg, input_size=1 + F), horizon=12, output="gaussian", future_size=2)
    params = model(x, future)            # (B, L, I), (B, K, 2) -> (B, K, 2): mean and scale (softplus, > 0)

Known-future features over the horizon (calendar, planned prices) enter the head beside the
encoder's last output, as MQ-RNN's global decoder does (Wen et al. 2017).

`output="quantile"` emits one value per quantile instead, (B, H, Q), sorted so quantiles never
cross. The model returns parameters; the task scores them (`gaussian_nll`, `pinball`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import LockedDropout

OUTPUTS = ("gaussian", "quantile")


class Forecaster(nn.Module):
    def __init__(self, rnn: nn.Module, horizon: int, *, output: str = "gaussian",
                 quantiles: tuple[float, ...] = (0.1, 0.5, 0.9), future_size: int = 0,
                 input_dropout: float = 0.0, output_dropout: float = 0.0) -> None:
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output = {output!r} is not known; choose one of {list(OUTPUTS)}")
        self.rnn, self.horizon, self.output = rnn, horizon, output
        self.quantiles = tuple(quantiles)
        self.params = 2 if output == "gaussian" else len(self.quantiles)
        self.input_dropout, self.output_dropout = LockedDropout(input_dropout), LockedDropout(output_dropout)
        self.future_size = future_size
        self.head = nn.Linear(rnn.output_size + horizon * future_size, horizon * self.params)

    def forward(self, x: Tensor, future: Tensor | None = None) -> Tensor:
        if (future is None) != (self.future_size == 0):
            raise ValueError(f"this forecaster was built for {self.future_size} known-future features over the "
                             f"horizon, got {'none' if future is None else tuple(future.shape)}")
        y, _ = self.rnn(self.input_dropout(x))                                      # (B, L, H)
        last = self.output_dropout(y)[:, -1]                                        # (B, H)
        if future is not None:
            last = torch.cat([last, future.flatten(1)], dim=-1)                     # (B, H + K F)
        out = self.head(last).view(x.size(0), self.horizon, self.params)
        if self.output == "gaussian":
            return torch.stack([out[..., 0], F.softplus(out[..., 1]) + 1e-4], dim=-1)   # (B, H, 2)
        return out.sort(dim=-1).values                                              # (B, H, Q)

    def point(self, params: Tensor) -> Tensor:
        """The point forecast (B, H): the mean, or the median quantile (the middle one)."""
        return params[..., 0] if self.output == "gaussian" else params[..., self.params // 2]


def gaussian_nll(params: Tensor, target: Tensor) -> Tensor:
    """Mean negative log-likelihood of target (B, H) under N(mean, scale²), constants dropped."""
    mean, scale = params[..., 0], params[..., 1]
    return (torch.log(scale) + 0.5 * ((target - mean) / scale) ** 2).mean()


def pinball(params: Tensor, target: Tensor, quantiles: tuple[float, ...]) -> Tensor:
    """Mean quantile (pinball) loss of (B, H, Q) predictions for target (B, H)."""
    q = params.new_tensor(quantiles)                                                # (Q,)
    error = target[..., None] - params
    return torch.maximum(q * error, (q - 1) * error).mean()
