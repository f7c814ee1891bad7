"""The ES-RNN forecaster's graph: raw histories in, the forecast from each history's end out, in
the data's units. The per-series smoothing (models/esrnn.py `smooth`, scripted, so its loop runs
over however many values a history has) and the network over the forecast origins are both in
the graph; the caller picks each row's series (its index in meta.series_ids) and, for a series
with values <= 0, adds the task's shift first and subtracts it from the outputs (docs/deploy.md)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.esrnn import ESRNN, smooth
from ..models.likelihoods import interval, param_count, point, to_params
from .base import Graph, Port, dtype_name
from .errors import ExportError
from .recurrence import script


class ESRNNGraph(Graph):
    """values (B, T) > 0, padded after each row's length with its last value; series (B,) int64
    -> params (B, K, P) and log_base (B, K) at the last origin, point (and lower, upper) (B, K)."""

    def __init__(self, model: ESRNN, *, streaming: bool, dtype: torch.dtype, level: float = 0.8) -> None:
        if streaming:
            raise ExportError("the ES-RNN forecaster has no streaming export (its smoothing state is not carried); "
                              "export it without --streaming")
        super().__init__(model.rnn, model.input_size, streaming=False, dtype=dtype)
        self.model, self.level = model, float(level)
        self.smooth = script(smooth)
        self.intervals = model.output in ("gaussian", "quantile")

    def forward(self, values: Tensor, series: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        model, L, K, m = self.model, self.model.input_size, self.model.horizon, max(self.model.season, 1)
        alpha, gamma = torch.sigmoid(model.alpha[series]), torch.sigmoid(model.gamma[series])       # (B,)
        first = torch.exp(model.init_season[series]) if model.season > 1 else torch.ones_like(values[:, :1])
        level, indices = self.smooth(values, alpha, gamma, first)                # (B, T), (B, T + m)
        log_level, log_season = torch.log(level), torch.log(indices)
        origins = values.size(1) - L + 1
        window = torch.arange(origins)[:, None] + torch.arange(L)                 # (N, L)
        # narrow/unsqueeze, not [:, a:, None]: the scripted smooth's outputs reach the ONNX exporter
        # without a known rank, and it lowers such indexing wrongly
        deseasonalised = torch.log(values) - log_season.narrow(1, 0, values.size(1))   # (B, T)
        picks = window.reshape(1, -1).expand(values.size(0), -1)                   # (B, N L): a gather, not
        x = deseasonalised.gather(1, picks).view(values.size(0), origins, L)       # [:, window], which ONNX
        x = x - log_level.narrow(1, L - 1, origins).unsqueeze(2)                  # fixes to the example's B
        valid = lengths - L + 1                                                    # origins of each row
        h, s = self.loop(x, valid, self.initial(values, ()))                       # (B, N, H)
        raw = model.head(self.last(h, valid)).view(values.size(0), K, -1)          # (B, K, P)
        params = to_params(raw, model.output)
        end = lengths - 1                                                          # the last origin t
        ahead = end[:, None] + torch.arange(K) % m + 1                             # (B, K)
        log_base = log_level.gather(1, end[:, None]) + log_season.gather(1, ahead)     # (B, K)
        if not self.intervals:
            return (params, log_base, torch.exp(point(params, model.output) + log_base))
        lower, middle, upper = interval(params, model.output, self.level)
        return (params, log_base, *(torch.exp(b + log_base) for b in (middle, lower, upper)))

    def input_ports(self) -> list[Port]:
        return [Port("values", dtype_name(self.dtype), ("batch", "time")), Port("series", "int64", ("batch",)),
                Port("lengths", "int64", ("batch",))]

    def output_ports(self) -> list[Port]:
        f, k = dtype_name(self.dtype), self.model.horizon
        ports = [Port("params", f, ("batch", k, param_count(self.model.output, self.model.quantiles))),
                 Port("log_base", f, ("batch", k)), Port("point", f, ("batch", k))]
        return ports + ([Port("lower", f, ("batch", k)), Port("upper", f, ("batch", k))] if self.intervals else [])

    def example_inputs(self, batch: int, steps: int, seed: int) -> tuple[Tensor, ...]:
        """Positive histories at least input_size long, each padded with its last value; series ids."""
        g = torch.Generator().manual_seed(seed)
        steps = max(steps, self.model.input_size + 2)
        values = 1 + torch.rand(batch, steps, generator=g, dtype=self.dtype)
        lengths = torch.linspace(steps, self.model.input_size, batch).round().long()
        for b, n in enumerate(lengths.tolist()):
            values[b, n:] = values[b, n - 1]
        return values, torch.randint(0, self.model.series, (batch,), generator=g), lengths
