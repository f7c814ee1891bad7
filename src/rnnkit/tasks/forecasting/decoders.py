"""`task.forecaster` -> a model: the one place where the forecasting config becomes objects."""

from __future__ import annotations

from torch import nn

from ...config import ModelConfig
from ...models.forecast_decoders import AutoregressiveForecaster, Seq2SeqForecaster
from ...models.forecaster import Forecaster
from ...models.stack import build_rnn

FORECASTERS = ("direct", "seq2seq", "autoregressive", "esrnn")     # esrnn: built in esrnn.py


def build_forecaster(kind: str, cfg: ModelConfig, input_size: int, future_size: int, horizon: int, *,
                     output: str, quantiles: tuple[float, ...]) -> nn.Module:
    """A forecaster over inputs (B, L, input_size) whose first 1 + future_size columns are the value
    and the known-future features (the rest past-only)."""
    if kind == "direct":
        return Forecaster(build_rnn(cfg, input_size), horizon, output=output, quantiles=quantiles,
                          future_size=future_size, input_dropout=cfg.input_dropout, output_dropout=cfg.output_dropout)
    if cfg.bidirectional:
        raise ValueError(f"task.forecaster = {kind!r} runs its recurrent model forward in time; set "
                         "model.bidirectional = false")
    if kind == "seq2seq":
        return Seq2SeqForecaster(build_rnn(cfg, input_size), build_rnn(cfg, future_size + horizon), horizon,
                                 output=output, quantiles=quantiles, future_size=future_size)
    if input_size != 1 + future_size:
        raise ValueError(f"task.forecaster = 'autoregressive' reads only the value and known-future features, "
                         f"but the data has {input_size - 1 - future_size} past-only covariate column(s); list them "
                         "in task.future_covariates if they are known ahead, or use forecaster 'direct' or 'seq2seq'")
    return AutoregressiveForecaster(build_rnn(cfg, 1 + future_size), horizon, output=output, quantiles=quantiles,
                                    future_size=future_size)
