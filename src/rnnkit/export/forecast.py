"""The forecasters' graphs: an input window in, the horizon's distribution parameters, point
forecast and central interval out, in the window's scale. The window's features and its scaling
(task.scale, the run's scaler) are the caller's, as meta.json and docs/deploy.md describe; the
validated choice between the network and the statistical baselines (task.select) is not in the
graph, which is the network alone.

A streaming graph reads the window chunk by chunk with the encoder's state kept by the caller and
forecasts after every chunk from the state it returns (an autoregressive rollout runs on a copy,
so state_out stays the state after the observed values)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.forecast_decoders import AutoregressiveForecaster, Seq2SeqForecaster
from ..models.forecaster import Forecaster
from ..models.likelihoods import interval, param_count, point, to_params
from .base import Graph, Port, dtype_name
from .recurrence import recurrence

Model = Forecaster | Seq2SeqForecaster | AutoregressiveForecaster


class ForecasterGraph(Graph):
    """window (B, L, F) [, future (B, K, F_future)] -> params (B, K, P), point (B, K), and for
    gaussian and quantile outputs lower and upper (B, K) of the central `level` interval."""

    def __init__(self, model: Model, *, streaming: bool, dtype: torch.dtype, level: float = 0.8) -> None:
        stack = model.encoder if isinstance(model, Seq2SeqForecaster) else model.rnn
        super().__init__(stack, stack.input_size, streaming=streaming, dtype=dtype)
        self.model, self.level, self.horizon = model, float(level), model.horizon
        self.future_size = model.future_size
        self.intervals = model.output in ("gaussian", "quantile")
        if isinstance(model, Seq2SeqForecaster):
            self.decoder, _ = recurrence(model.decoder, model.decoder.input_size, dtype=dtype, streaming=True)
        elif isinstance(model, AutoregressiveForecaster):
            self.decoder = self.loop                     # the rollout steps the same stack on
        self.top = [s for s in self.slots if s.name.startswith(f"layer{len(self.loop.layers) - 1}.")][0]

    def forward(self, x: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        future, lengths, state = (rest[0], rest[1], rest[2:]) if self.future_size else (None, rest[0], rest[1:])
        model = self.model
        if isinstance(model, AutoregressiveForecaster):
            x = model.encoder_inputs(x, future)                                  # (B, L, 1 + F)
        y, s = self.loop(x, lengths, self.initial(x, state))                     # (B, L, H)
        last = s[:, self.top.start:self.top.stop] if self.streaming else self.last(y, lengths)   # (B, H)
        if isinstance(model, Forecaster):
            out = model.head(last).view(x.size(0), self.horizon, model.params)    # (B, K, P)
            if future is not None:
                context = model.context(last)[:, None].expand(-1, self.horizon, -1)
                out = out + model.local(torch.cat([context, future], dim=-1))
            params = to_params(out, model.output)
        elif isinstance(model, Seq2SeqForecaster):
            steps = torch.eye(self.horizon, dtype=x.dtype).expand(x.size(0), -1, -1)      # (B, K, K)
            inputs = steps if future is None else torch.cat([future, steps], dim=-1)
            full = torch.full_like(lengths, self.horizon)
            h, _ = self.decoder(inputs, full, s)                                  # (B, K, H)
            params = to_params(model.head(h), model.output)
        else:
            params = self.rollout(last, s, future)
        return (params, *self.summary(params), *self.split(s))

    def rollout(self, last: Tensor, state: Tensor, future: Tensor | None) -> Tensor:
        """The autoregressive forecaster's horizon: each step reads the previous step's point."""
        model = self.model
        params = [to_params(model.head(last), model.output)]                     # (B, P)
        ones = torch.ones(last.size(0), dtype=torch.long)
        for k in range(1, self.horizon):
            fed = point(params[-1], model.output)[:, None]                        # (B, 1)
            if future is not None:
                fed = torch.cat([fed, future[:, k]], dim=-1)
            y, state = self.decoder(fed[:, None], ones, state)                   # (B, 1, H)
            params.append(to_params(model.head(y[:, 0]), model.output))
        return torch.stack(params, dim=1)                                         # (B, K, P)

    def summary(self, params: Tensor) -> tuple[Tensor, ...]:
        if not self.intervals:
            return (point(params, self.model.output),)
        lower, middle, upper = interval(params, self.model.output, self.level)
        return middle, lower, upper

    def inputs(self) -> list[Port]:
        f = dtype_name(self.dtype)
        ports = [Port("window", f, ("batch", "time", self.model_input_size()))]
        if self.future_size:
            ports.append(Port("future", f, ("batch", self.horizon, self.future_size)))
        return ports

    def model_input_size(self) -> int:
        model = self.model
        if isinstance(model, Seq2SeqForecaster):
            return model.encoder.input_size
        if isinstance(model, AutoregressiveForecaster):
            return 1 + self.future_size            # the value, then the known-future features at t
        return model.rnn.input_size

    def outputs(self) -> list[Port]:
        f, k = dtype_name(self.dtype), self.horizon
        ports = [Port("params", f, ("batch", k, param_count(self.model.output, self.model.quantiles))),
                 Port("point", f, ("batch", k))]
        if self.intervals:
            ports += [Port("lower", f, ("batch", k)), Port("upper", f, ("batch", k))]
        return ports
