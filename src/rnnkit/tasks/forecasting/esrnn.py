"""The ES-RNN forecaster's data, loss and forecasts (task.forecaster = "esrnn"; Smyl 2020).

The model normalises each series itself (learned level and seasonality), so it reads raw values:
task.scale, the calendar and covariate columns are not used.

Zeros and negative values: the multiplicative model takes logs of y / (level x season), so it needs
positive values (Smyl 2020 worked on M4, which has none). A series with a value <= 0 is shifted
first, y + c with c = mean|y| - min(y) over the history forecast from (`offset`; c = 0, nothing
changes, when every value is positive), and its forecasts are shifted back: the shifted (two-
parameter) logarithm of Box & Cox 1964, log(y + lambda_2). We chose it over an additive ES-RNN
because it keeps the one model, its scale-free normalisation (the shift is proportional to the
series' scale, so multiplying a series by 10 still multiplies its forecast by 10) and every result
on positive data exactly as it was; an additive variant would need its own level and season
recursions and lose the multiplicative seasonality that fits most business series. The shift is
fitted on the history before each forecast origin, so it reads no future value. An example is a whole series
history, padded at its end with its last value (padding is never read: everything at origin t
depends on values up to t): inputs (S, T), lengths (S,), series (S,) the series' index, whose
per-series smoothing parameters the model owns. Training scores every origin whose horizon lies in
the history; evaluation forecasts from the end of each history, targets (S, K).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ...config import ModelConfig
from ...data.batch import Batch, Splits
from ...data.series import Panel, SeriesError
from ...forecast.metrics import smape
from ...models.esrnn import ESRNN
from ...models.likelihoods import interval, likelihood_loss
from ...models.stack import build_rnn


def offset(history: np.ndarray) -> float:
    """The shift c that makes a history positive (see the module docstring): 0 when it already is,
    else mean|y| - min(y) (1 for an all-zero history)."""
    history = np.asarray(history, dtype=np.float64)
    if len(history) == 0 or history.min() > 0:
        return 0.0
    c = float(np.abs(history).mean() - history.min())
    return c if c > 0 else 1.0


def offsets(batch: Batch) -> Tensor:
    """(S, 1) shifts of a batch of histories, each from its valid points (inputs[i, :lengths[i]])."""
    rows = [offset(x[:n].double().cpu().numpy()) for x, n in zip(batch.inputs, batch.lengths.tolist())]
    return torch.tensor(rows, dtype=batch.inputs.dtype, device=batch.inputs.device)[:, None]


def histories(values: Sequence[np.ndarray], ends: Sequence[int], targets: np.ndarray | None = None,
              series: Sequence[int] | None = None) -> Batch:
    """Each series' values before its end, padded with its last value: inputs (S, T), lengths (S,).
    `series` picks the series (default all, in order)."""
    series = range(len(values)) if series is None else series
    values, ends = [values[i] for i in series], [ends[i] for i in series]
    width = max(ends)
    x = np.stack([np.concatenate([v[:e], np.full(width - e, v[e - 1])]) for v, e in zip(values, ends)])
    x_t = torch.tensor(x, dtype=torch.float32)
    y_t = x_t if targets is None else torch.tensor(targets, dtype=torch.float32)
    return Batch(x_t, y_t, lengths=torch.tensor(list(ends)), series=torch.tensor(list(series)))


def splits(task: Any, panel: Panel) -> Splits:
    if panel.covariate_names:
        warnings.warn(f"task.forecaster = 'esrnn' reads only the values; the covariate columns "
                      f"{list(panel.covariate_names)} are not used", stacklevel=3)
    L, K = task.input_size, task.horizon
    cuts = [len(v) - task.holdout * K for v in panel.values]
    idle = [name for name, c in zip(panel.ids, cuts) if c < L + K]
    if len(idle) == len(cuts):
        raise SeriesError(f"no series has input_size + horizon = {L + K} points before its held-out part")
    if idle:
        warnings.warn(f"{len(idle)} series are too short for a training origin (input_size + horizon = {L + K} "
                      f"points before the held-out part) and are only forecast: {idle[:5]}", stacklevel=3)
    ahead = lambda ends, chosen: np.stack([panel.values[i][ends[i]:ends[i] + K] for i in chosen])
    every = range(len(cuts))
    ends = [c + K for c in cuts]
    test = histories(panel.values, ends, ahead(ends, every)) if task.holdout == 2 else None
    if task.holdout:
        return Splits(histories(panel.values, cuts), histories(panel.values, cuts, ahead(cuts, every)), test)
    # no held-out part: the validation split is each series' last horizon, seen in training, scored
    # from an origin with a full input window before it (series too short for one are left out of it)
    ends = [c - K for c in cuts]
    scored = [i for i in every if ends[i] >= L]
    return Splits(histories(panel.values, cuts), histories(panel.values, ends, ahead(ends, scored), scored), None)


def build(task: Any, cfg: ModelConfig, series: int, season: int, init_season: Any = None) -> nn.Module:
    """The ES-RNN of `series` series; `init_season` (series, season) log indices to start from
    (task.season_init = "decompose", from `initial_seasons`), else flat ones."""
    if cfg.bidirectional:
        raise ValueError("task.forecaster = 'esrnn' runs its network forward in time; set model.bidirectional = false")
    model = ESRNN(build_rnn(cfg, task.input_size), series, task.input_size, task.horizon, season=season,
                  output=task.output, quantiles=task.quantiles)
    if init_season is not None:
        with torch.no_grad():
            model.init_season.copy_(torch.as_tensor(np.asarray(init_season)))
    return model


def initial_seasons(train: Batch, season: int) -> np.ndarray:
    """(S, season) log initial seasonal indices of each training history (`initial_season`)."""
    histories = [x[:n].double().numpy() for x, n in zip(train.inputs, train.lengths.tolist())]
    return np.stack([initial_season(h + offset(h), season) for h in histories])


def initial_season(y: np.ndarray, m: int) -> np.ndarray:
    """Log initial seasonal indices s_0..s_{m-1} (m,) of a positive history y by classical
    multiplicative decomposition: each value over the centred moving average of one season (a 2 x m
    average for even m), averaged per position in the season and normalised to mean 1 (Hyndman &
    Athanasopoulos, FPP3 3.4). A history under two seasons uses each full season's values over its
    mean; under one season, flat indices. Holt-Winters starts from these, not from flat ones, so
    short series whose indices get little gradient still begin deseasonalised."""
    n = len(y)
    if n < m:
        return np.zeros(m)
    if n >= 2 * m:
        weights = np.full(m + 1, 1.0 / m) if m % 2 == 0 else np.full(m, 1.0 / m)
        if m % 2 == 0:
            weights[0] = weights[-1] = 0.5 / m
        trend = np.convolve(y, weights, mode="valid")                       # centred: starts at len(weights)//2
        start = len(weights) // 2
        ratios = y[start:start + len(trend)] / trend
        positions = np.arange(start, start + len(trend)) % m
    else:
        seasons = y[:n // m * m].reshape(-1, m)
        ratios = (seasons / seasons.mean(axis=1, keepdims=True)).ravel()
        positions = np.arange(len(ratios)) % m
    index = np.array([ratios[positions == k].mean() for k in range(m)])
    return np.clip(np.log(index / index.mean()), -3.0, 3.0)


def loss(task: Any, model: nn.Module, batch: Batch) -> Tensor:
    """The likelihood (or pinball) loss over every origin t with t + K inside the history, on
    log(y / (l_t s_{t+k})): Smyl's normalised space."""
    L, K = task.input_size, task.horizon
    y = batch.inputs + offsets(batch)                                         # (B, T) > 0
    level, indices = model.smooth(y, batch.series)                            # (B, T), (B, T + m)
    params, log_base = model.forecast(y, level, indices)                      # (B, N, K, P), (B, N, K)
    N = params.size(1) - K                                                    # origins with a full horizon
    target = torch.log(y).unfold(1, K, 1)[:, L:L + N]                         # (B, N, K): y_{t+1..t+K}
    keep = torch.arange(N, device=target.device) < (batch.lengths.to(target.device) - L - K + 1)[:, None]
    z = (target - log_base[:, :N])[keep]                                      # (M, K)
    weight = None
    if task.weighting == "series":        # every series counts the same, not every origin: 1 / its origins
        weight = (1.0 / keep.sum(1, keepdim=True).clamp(min=1)).expand_as(keep)[keep].to(z.dtype)   # (M,)
    # a batch of series too short for any origin (possible when some are only forecast) adds nothing
    loss = likelihood_loss(params[:, :N][keep], z, task.output, task.quantiles, weight) if len(z) \
        else params.sum() * 0
    if task.level_penalty:
        loss = loss + task.level_penalty * wiggliness(level, batch.lengths.to(level.device))
    return loss


def wiggliness(level: Tensor, lengths: Tensor) -> Tensor:
    """Smyl's level variability penalty: the mean squared change of the log level's step,
    ((log l_t - log l_{t-1}) - (log l_{t-1} - log l_{t-2}))², over each series' valid steps."""
    second = torch.log(level).diff(n=2, dim=1)                                # (B, T - 2)
    keep = torch.arange(second.size(1), device=level.device) < (lengths - 2)[:, None]
    return second.pow(2)[keep].mean() if keep.any() else level.new_zeros(())


def forecast(task: Any, model: nn.Module, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """(lower, point, upper) in data units, each (B, K), from the end of each history."""
    shift = offsets(batch)                                                    # (B, 1)
    params, log_base = model(batch.inputs + shift, batch.series)
    last = (batch.lengths.to(params.device) - task.input_size)                # origin t = length - 1
    rows = torch.arange(params.size(0), device=params.device)
    bands = interval(params[rows, last], task.output, task.level)
    base = log_base[rows, last]
    return tuple(torch.exp(b + base) - shift for b in bands)                  # type: ignore[return-value]


def evaluate(task: Any, model: nn.Module, batches: Any) -> dict[str, float]:
    """MAE and RMSE of forecasts divided by the series' last value (shifted by `offset`: scale-free,
    and never 0), interval coverage, and the M3 sMAPE (percent)."""
    abs_sum = sq_sum = inside = count = 0.0
    smapes: list[float] = []
    for batch in batches:
        lower, point, upper = forecast(task, model, batch)
        last = batch.inputs[torch.arange(len(batch)), batch.lengths.to(point.device) - 1][:, None] + offsets(batch)
        error = (point - batch.targets) / last
        abs_sum += error.abs().sum().item()
        sq_sum += error.pow(2).sum().item()
        inside += ((lower <= batch.targets) & (batch.targets <= upper)).sum().item()
        count += batch.targets.numel()
        smapes += [smape(y, f) for y, f in zip(batch.targets.cpu().numpy(), point.detach().cpu().numpy())]
    return {"mae": abs_sum / count, "rmse": (sq_sum / count) ** 0.5, "coverage": inside / count,
            "smape": float(np.mean(smapes))}
