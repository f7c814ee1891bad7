"""A global forecaster: a recurrent encoder reads the input window, a linear head emits the whole
horizon at once (direct multi-horizon), as distribution parameters for each future step.

    model = Forecaster(build_rnn(cfg, input_size=1 + F), horizon=12, output="gaussian", future_size=2)
    params = model(x, future)            # (B, L, I), (B, K, 2) -> (B, K, 2): mean and scale (softplus, > 0)

Known-future features over the horizon (calendar, planned prices, forecast temperatures) enter
through MQ-RNN's local decoder (Wen et al. 2017): one small MLP, shared by every horizon step, reads
that step's features beside a context from the encoder, and its output is added to the
horizon-specific head's. Sharing it across steps means the effect of a temperature on the demand
at the same step is learned once, not once per (feature step, output step) pair; it is
nonlinear (demand is U-shaped in temperature: heating and cooling). The earlier design, the whole
horizon's features flattened into the linear head beside the encoder output, had K x K weights
per feature, only a linear effect, and made a temperature covariate hurt a next-day demand
forecast (docs/results.md).

`output="student_t"` adds learned degrees of freedom, (B, K, 3); `output="quantile"` emits one
value per quantile instead, (B, K, Q), sorted so quantiles never cross (see `likelihoods`). The
model returns parameters; the task scores them (`likelihood_loss`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..layers import LockedDropout
from .likelihoods import param_count, point, to_params


class Forecaster(nn.Module):
    def __init__(self, rnn: nn.Module, horizon: int, *, output: str = "gaussian",
                 quantiles: tuple[float, ...] = (0.1, 0.5, 0.9), future_size: int = 0,
                 input_dropout: float = 0.0, output_dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn, self.horizon, self.output = rnn, horizon, output
        self.quantiles = tuple(quantiles)
        self.params = param_count(output, self.quantiles)
        self.input_dropout, self.output_dropout = LockedDropout(input_dropout), LockedDropout(output_dropout)
        self.future_size = future_size
        self.head = nn.Linear(rnn.output_size, horizon * self.params)
        if future_size:
            width = rnn.output_size
            self.context = nn.Linear(rnn.output_size, width)
            self.local = nn.Sequential(nn.Linear(width + future_size, width), nn.ReLU(), nn.Linear(width, self.params))

    def forward(self, x: Tensor, future: Tensor | None = None) -> Tensor:
        if (future is None) != (self.future_size == 0):
            raise ValueError(f"this forecaster was built for {self.future_size} known-future features over the "
                             f"horizon, got {'none' if future is None else tuple(future.shape)}")
        y, _ = self.rnn(self.input_dropout(x))                                      # (B, L, H)
        last = self.output_dropout(y)[:, -1]                                        # (B, H)
        out = self.head(last).view(x.size(0), self.horizon, self.params)           # (B, K, P)
        if future is not None:
            context = self.context(last)[:, None].expand(-1, self.horizon, -1)     # (B, K, W)
            out = out + self.local(torch.cat([context, future], dim=-1))           # (B, K, P)
        return to_params(out, self.output)

    def point(self, params: Tensor) -> Tensor:
        """The point forecast (B, K): the location, or the median quantile (the middle one)."""
        return point(params, self.output)
