"""Forecasters that decode the horizon step by step, beside the direct head of `Forecaster`.

    model = Seq2SeqForecaster(encoder, decoder, horizon=12, future_size=F)
    params = model(x, future)                  # (B, L, I), (B, K, F) -> (B, K, P)

    model = AutoregressiveForecaster(rnn, horizon=12, future_size=F)
    params = model(x, future, targets)         # training: teacher forcing, (B, K, P)
    params = model(x, future)                  # predict: rolled out on its own point forecasts
    paths = model.sample(x, future, 100)       # predict: rolled out on its own samples, (B, 100, K)

Seq2seq (Sutskever et al. 2014; in forecasting, Wen et al. 2017): an encoder RNN reads the input
window, a decoder RNN starts from its state and runs over the horizon, reading at step k the
known-future features of step k and a one-hot of k.

Autoregressive (DeepAR, Salinas et al. 2020): one recurrent model of the next value. Its input at
time t is (value at t - 1, known-future features at t); training feeds the true previous values
(teacher forcing, Williams & Zipser 1989), prediction feeds back its own forecasts. It reads only
the value and the known-future columns (the first 1 + F of x), since past-only covariates have no
values over the horizon.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .likelihoods import param_count, point, to_params


class Seq2SeqForecaster(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module, horizon: int, *, output: str = "gaussian",
                 quantiles: tuple[float, ...] = (0.1, 0.5, 0.9), future_size: int = 0) -> None:
        super().__init__()
        if decoder.input_size != future_size + horizon:
            raise ValueError(f"the decoder reads future_size + horizon = {future_size + horizon} features "
                             f"(known-future features and the step's one-hot), got input_size {decoder.input_size}")
        self.encoder, self.decoder, self.horizon, self.output = encoder, decoder, horizon, output
        self.quantiles, self.future_size = tuple(quantiles), future_size
        self.head = nn.Linear(decoder.output_size, param_count(output, self.quantiles))

    def forward(self, x: Tensor, future: Tensor | None = None) -> Tensor:
        _, state = self.encoder(x)
        steps = torch.eye(self.horizon, dtype=x.dtype, device=x.device).expand(x.size(0), -1, -1)   # (B, K, K)
        inputs = steps if future is None else torch.cat([future, steps], dim=-1)          # (B, K, F + K)
        y, _ = self.decoder(inputs, state)                                                # (B, K, H)
        return to_params(self.head(y), self.output)                                       # (B, K, P)

    def point(self, params: Tensor) -> Tensor:
        return point(params, self.output)


class AutoregressiveForecaster(nn.Module):
    def __init__(self, rnn: nn.Module, horizon: int, *, output: str = "gaussian",
                 quantiles: tuple[float, ...] = (0.1, 0.5, 0.9), future_size: int = 0) -> None:
        super().__init__()
        if rnn.input_size != 1 + future_size:
            raise ValueError(f"the one-step model reads 1 + future_size = {1 + future_size} features (the previous "
                             f"value and the known-future features), got input_size {rnn.input_size}")
        self.rnn, self.horizon, self.output = rnn, horizon, output
        self.quantiles, self.future_size = tuple(quantiles), future_size
        self.head = nn.Linear(rnn.output_size, param_count(output, self.quantiles))

    def encoder_inputs(self, x: Tensor, future: Tensor | None) -> Tensor:
        """(B, L, 1 + F): at step t the value at t and the known-future features at t + 1."""
        if future is None:
            return x[..., :1]
        ahead = torch.cat([x[:, 1:, 1:1 + self.future_size], future[:, :1]], dim=1)        # (B, L, F)
        return torch.cat([x[..., :1], ahead], dim=-1)

    def forward(self, x: Tensor, future: Tensor | None = None, targets: Tensor | None = None) -> Tensor:
        inputs = self.encoder_inputs(x, future)                                          # (B, L, 1 + F)
        if targets is not None:                       # teacher forcing: one pass over window and horizon
            fed = targets[:, :-1, None]                                                  # (B, K - 1, 1)
            if future is not None:
                fed = torch.cat([fed, future[:, 1:]], dim=-1)
            y, _ = self.rnn(torch.cat([inputs, fed], dim=1))                             # (B, L + K - 1, H)
            return to_params(self.head(y[:, -self.horizon:]), self.output)              # (B, K, P)
        return self.rollout(inputs, future, lambda params: point(params, self.output))

    def rollout(self, inputs: Tensor, future: Tensor | None, draw) -> Tensor:
        """(B, K, P): after the window, each step reads draw(previous step's parameters) -> (B,)."""
        y, state = self.rnn(inputs)
        params = [to_params(self.head(y[:, -1]), self.output)]                          # (B, P)
        for k in range(1, self.horizon):
            fed = draw(params[-1])[:, None]                                              # (B, 1)
            if future is not None:
                fed = torch.cat([fed, future[:, k]], dim=-1)
            y, state = self.rnn(fed[:, None], state)                                     # (B, 1, H)
            params.append(to_params(self.head(y[:, -1]), self.output))
        return torch.stack(params, dim=1)

    def sample(self, x: Tensor, future: Tensor | None, samples: int) -> Tensor:
        """(B, S, K) sample paths, each step drawn from the distribution and fed back."""
        B = x.size(0)
        repeat = lambda t: None if t is None else t.repeat_interleave(samples, dim=0)   # (B S, ...)
        drawn: list[Tensor] = []

        def draw(params: Tensor) -> Tensor:
            drawn.append(_draw(params, self.output, self.quantiles))
            return drawn[-1]

        last = self.rollout(self.encoder_inputs(repeat(x), repeat(future)), repeat(future), draw)[:, -1]
        drawn.append(_draw(last, self.output, self.quantiles))
        return torch.stack(drawn, dim=1).view(B, samples, self.horizon)

    def point(self, params: Tensor) -> Tensor:
        return point(params, self.output)


def _draw(params: Tensor, output: str, quantiles: tuple[float, ...]) -> Tensor:
    """One draw per row of (N, P) parameters. Quantile outputs: a uniform level, clamped to the
    outermost quantiles, through the piecewise-linear inverse CDF they define."""
    if output == "gaussian":
        return params[:, 0] + params[:, 1] * torch.randn_like(params[:, 0])
    if output == "student_t":
        return torch.distributions.StudentT(params[:, 2], params[:, 0], params[:, 1]).sample()
    levels = params.new_tensor(quantiles)                                               # (Q,)
    u = torch.rand(params.size(0), 1, device=params.device, dtype=params.dtype).clamp(levels[0], levels[-1])
    return _interp(u, levels, params)


def _interp(u: Tensor, levels: Tensor, values: Tensor) -> Tensor:
    """Piecewise-linear inverse CDF through (levels, values) rows at u (N, 1) -> (N,)."""
    i = torch.searchsorted(levels, u.contiguous()).clamp(1, len(levels) - 1)           # (N, 1)
    lo, hi = levels[i - 1], levels[i]
    v_lo, v_hi = values.gather(1, i - 1), values.gather(1, i)
    return (v_lo + (u - lo) / (hi - lo) * (v_hi - v_lo))[:, 0]

