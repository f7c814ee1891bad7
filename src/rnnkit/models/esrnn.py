"""ES-RNN: per-series exponential smoothing learned jointly with a global recurrent network
(Smyl 2020, the M4 competition's winner).

Each series i has its own Holt-Winters-style level and multiplicative seasonality, with smoothing
coefficients α_i, γ_i ∈ (0, 1) (sigmoids of free parameters) and initial seasonal indices
s_0..s_{m-1} (exponentials of free parameters), all trained by gradient descent with the network:

    l_t     = α y_t / s_t + (1 - α) l_{t-1}            (l_{-1} = y_0 / s_0, so l_0 = y_0 / s_0)
    s_{t+m} = γ y_t / l_t + (1 - γ) s_t

The network runs over time, one step per forecast origin t (as in the paper): its input is the
last L values deseasonalised and divided by the level at the origin, in logs,
x_t = log(y_{t-L+1..t} / (s_{t-L+1..t} l_t)), and its head emits the horizon's distribution
parameters in the same space; forecasts are re-seasonalised, ŷ_{t+k} = exp(out_k) l_t s_{t+k},
with s_{t+k} the last computed index of that season (k > m repeats the season). Every quantity at
origin t depends on y_0..y_t alone.

    model = ESRNN(build_rnn(cfg, 12), series=1428, input_size=12, horizon=18, season=12, output="quantile")
    params, log_base = model(y, series)      # (B, T) > 0, (B,) -> (B, N, K, P), (B, N, K); N = T - L + 1
    forecast = torch.exp(params[..., 1] + log_base)                    # the median, in data units
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .likelihoods import param_count, point, to_params


def smooth(y: Tensor, alpha: Tensor, gamma: Tensor, first: Tensor) -> tuple[Tensor, Tensor]:
    """Holt-Winters-style levels (B, T) and seasonal indices (B, T + m) of positive series y (B, T)
    with smoothing coefficients alpha, gamma (B,) and initial indices `first` (B, m); m = 1: no
    seasonality (the indices stay 1). Written for TorchScript too (export scripts it: its loop
    runs over however many values a series has)."""
    season = first.size(1)
    indices = list(first.unbind(1))                                                     # m x (B,)
    level = y[:, 0] / indices[0]
    levels: list[Tensor] = []
    for t in range(y.size(1)):
        y_t = y[:, t]                                                                   # (B,)
        level = torch.lerp(level, y_t / indices[t], alpha)          # α y_t / s_t + (1 - α) l_{t-1}
        levels.append(level)
        indices.append(torch.lerp(indices[t], y_t / level, gamma) if season > 1 else indices[t])
    return torch.stack(levels, dim=1), torch.stack(indices, dim=1)


class ESRNN(nn.Module):
    def __init__(self, rnn: nn.Module, series: int, input_size: int, horizon: int, *, season: int = 1,
                 output: str = "quantile", quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)) -> None:
        super().__init__()
        if rnn.input_size != input_size:
            raise ValueError(f"the network reads the input window of {input_size} values, got input_size "
                             f"{rnn.input_size}")
        self.rnn, self.input_size, self.horizon, self.season = rnn, input_size, horizon, season
        self.output, self.quantiles = output, tuple(quantiles)
        self.series = series
        self.alpha = nn.Parameter(torch.zeros(series))                 # level smoothing, sigmoid -> (0, 1)
        self.gamma = nn.Parameter(torch.zeros(series))                 # seasonality smoothing
        self.init_season = nn.Parameter(torch.zeros(series, season))   # log s_0 .. s_{m-1}
        self.head = nn.Linear(rnn.output_size, horizon * param_count(output, self.quantiles))

    def smooth(self, y: Tensor, series: Tensor) -> tuple[Tensor, Tensor]:
        """Levels (B, T) and seasonal indices (B, T + m) of positive series y (B, T)."""
        alpha, gamma = torch.sigmoid(self.alpha[series]), torch.sigmoid(self.gamma[series])     # (B,) each
        first = torch.exp(self.init_season[series]) if self.season > 1 else y.new_ones(y.size(0), 1)
        return smooth(y, alpha, gamma, first)

    def forward(self, y: Tensor, series: Tensor) -> tuple[Tensor, Tensor]:
        """Per origin t = L-1 .. T-1: parameters (B, N, K, P) in the normalised log space and the
        log re-seasonalising base log(l_t s_{t+k}) (B, N, K)."""
        return self.forecast(y, *self.smooth(y, series))

    def forecast(self, y: Tensor, level: Tensor, indices: Tensor) -> tuple[Tensor, Tensor]:
        """`forward` from the smoothed levels (B, T) and seasonal indices (B, T + m)."""
        L, K, m = self.input_size, self.horizon, max(self.season, 1)
        if y.size(1) < L:
            raise ValueError(f"ES-RNN needs at least input_size = {L} values, got {y.size(1)}")
        log_level, log_season = torch.log(level[:, L - 1:]), torch.log(indices)          # (B, N), (B, T + m)
        deseasonalised = torch.log(y) - log_season[:, :y.size(1)]                        # (B, T)
        x = deseasonalised.unfold(1, L, 1) - log_level[..., None]                        # (B, N, L)
        h, _ = self.rnn(x)                                                               # (B, N, H)
        raw = self.head(h).view(y.size(0), x.size(1), K, -1)                             # (B, N, K, P)
        ahead = torch.arange(L - 1, y.size(1), device=y.device)[:, None] + torch.arange(K, device=y.device) % m + 1
        return to_params(raw, self.output), log_level[..., None] + log_season[:, ahead]  # ahead: (N, K)

    def point(self, params: Tensor) -> Tensor:
        return point(params, self.output)
