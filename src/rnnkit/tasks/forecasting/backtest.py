"""Forecasts in the data's units from a trained model, and rolling-origin backtests.

    forecasts = predict(model, task, panel)                      # from each series' end
    rows = backtest(panel, task, folds=3, step=12, model=model)  # and the baselines, same origins

An origin is the index of the first forecast point: the model and the baselines see only
values[:origin] (scaled with statistics of those points alone) and are scored on
values[origin:origin + horizon]. Fold k of `folds` has origin n - horizon - (folds - 1 - k) * step,
so the last fold forecasts a series' last `horizon` points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ...data.future import extend
from ...data.series import Panel, SeriesError
from ...forecast.baselines import BASELINES, Forecast, baseline_forecast
from ...forecast.combine import with_baselines
from ...forecast.metrics import score
from .esrnn import forecast as esrnn_forecast
from .esrnn import histories
from .select import apply
from .short import fallback, screen
from .windows import features, inputs, known_size, scaler, window_scale


def origins(lengths: Sequence[int], horizon: int, folds: int, step: int) -> list[list[int]]:
    """origins[k][i]: where fold k's forecast of series i starts."""
    if folds < 1 or step < 1:
        raise ValueError(f"folds and step must be >= 1, got {folds} and {step}")
    return [[n - horizon - (folds - 1 - k) * step for n in lengths] for k in range(folds)]


def predict(model: nn.Module, task: Any, panel: Panel, starts: Sequence[int] | None = None, *,
            future: Any = None, series_ids: Sequence[str] | None = None, selection: dict[str, Any] | None = None,
            groups: Sequence[str] | None = None) -> list[Forecast]:
    """The model's forecast of each series from starts[i] (default: its end), in the data's units,
    with the task's central `level` interval. Where a horizon runs past a series' end, the panel is
    continued (`extend`): calendar features from the timestamps, known-future covariates from the
    table `future` (series_id, timestamp, task.future_covariates). With `task.combine` each forecast
    is combined with those baselines' forecasts from the same origin; otherwise, with a `selection`
    (select.py, kept in a run's meta.json), each series is forecast by the method chosen on
    validation for its group (`groups`; default: the panel's frequency). `series_ids`: the ids an
    ES-RNN was trained on (its per-series parameters), so the panel may hold any of them in any
    order; without them the panel must hold the training series in their order."""
    starts = [len(v) for v in panel.values] if starts is None else list(starts)
    L, H = task.input_size, task.horizon
    for name, o in zip(panel.ids, starts):
        if o < L:
            raise SeriesError(f"series {name!r}: forecast origin {o} leaves fewer than input_size = {L} points "
                              "(task.short_series = 'drop' or 'baseline' leaves such series out or forecasts them "
                              "with seasonal naive)")
    forecasts = _esrnn_predict(model, task, panel, starts, series_ids) if task.forecaster == "esrnn" \
        else _window_predict(model, task, panel, starts, future)
    if not task.combine:
        if not selection or task.select != "validate":
            return forecasts
        return apply(selection, task, panel, starts, forecasts, groups or [panel.freq] * len(panel))
    return with_baselines(forecasts, panel.values, starts, task.combine, horizon=H, season=task.period(panel),
                          level=task.level, how=task.combine_how, ids=panel.ids)


def _window_predict(model: nn.Module, task: Any, panel: Panel, starts: Sequence[int], future: Any) -> list[Forecast]:
    """Forecasts of the window-based forecasters (direct, seq2seq, autoregressive)."""
    H = task.horizon
    known = known_size(task, panel)
    if known and any(o + H > len(v) for v, o in zip(panel.values, starts)):
        panel = extend(panel, max(o + H - len(v) for v, o in zip(panel.values, starts)), task.future_covariates,
                       future, id_col=task.id_column, time_col=task.time_column)
    fitted = scaler(panel.values, starts, task.scale)
    values = fitted.transform(panel.values)
    x, ahead = inputs(task, values, features(task, panel, starts), starts, known)
    level = window_scale(task, x)[:, None]                                         # (S, 1)
    x[..., 0] /= level
    model.eval()
    device = next(model.parameters()).device
    as32 = lambda a: torch.tensor(a, dtype=torch.float32, device=device)
    with torch.no_grad():
        bands = task.forecast(model, as32(x), as32(ahead) if known else None)
        parts = [p.double().cpu().numpy() * level for p in bands]                   # 3 x (S, K)
    lower, point, upper = (fitted.inverse(list(p)) for p in parts)
    return [Forecast(p, lo, hi) for p, lo, hi in zip(point, lower, upper)]


def _esrnn_predict(model: nn.Module, task: Any, panel: Panel, starts: Sequence[int],
                   series_ids: Sequence[str] | None) -> list[Forecast]:
    """ES-RNN forecasts: the model holds one set of smoothing parameters per training series, so
    each series of the panel is looked up by its id (or its position, without `series_ids`)."""
    if series_ids is None:
        if len(panel) != model.series:
            raise SeriesError(f"this ES-RNN was trained on {model.series} series and forecasts only those (in the "
                              f"same order), got {len(panel)}")
        index = list(range(len(panel)))
    else:
        position = {name: i for i, name in enumerate(series_ids)}
        unknown = [name for name in panel.ids if name not in position]
        if unknown:
            raise SeriesError(f"series {unknown[0]!r} was not in this ES-RNN's training data; it forecasts only the "
                              f"{len(series_ids)} series it has smoothing parameters for: {list(series_ids[:5])}...")
        index = [position[name] for name in panel.ids]
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        batch = dataclasses.replace(histories(panel.values, starts), series=torch.tensor(index)).to(device)
        lower, point, upper = (b.double().cpu().numpy() for b in esrnn_forecast(task, model, batch))
    return [Forecast(p, lo, hi) for p, lo, hi in zip(point, lower, upper)]


def backtest(panel: Panel, task: Any, *, folds: int = 1, step: int = 0, model: nn.Module | None = None,
             baselines: Sequence[str] = ("naive", "seasonal_naive"), season: int = 0,
             selection: dict[str, Any] | None = None, groups: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per (method, fold, series) with its origin, what forecast it (`forecast_by`: the network
    or, task.short_series = "baseline", seasonal naive) and its metrics (MAE, RMSE, sMAPE, MASE,
    coverage). The model's forecasts follow its validated `selection` (per `groups`, one per series
    of `panel`), as `predict` does. With a model, the series too short for the network trained before the first fold
    (the cut plus task.holdout horizons, short.py) follow task.short_series."""
    H, step, season = task.horizon, step or task.horizon, season or task.period(panel)
    for name in baselines:
        if name not in BASELINES:
            raise ValueError(f"baseline {name!r} is not known; choose from {sorted(BASELINES)}")
    network, short = panel, []
    if model is not None:
        network, short = screen(task, panel, H + (folds - 1) * step, context=" for this backtest")
        panel, short = (panel, short) if task.short_series == "baseline" else (network, [])
    fell_back: dict[str, str] = {}      # short series -> the method that forecast it
    folds_origins = origins([len(v) for v in panel.values], H, folds, step)
    for name, o in zip(panel.ids, folds_origins[0]):
        if o < 2:
            raise SeriesError(f"series {name!r} ({o + (folds - 1) * step + H} points) is too short for "
                              f"{folds} folds of step {step} and horizon {H}")
    rows = []
    for k, starts in enumerate(folds_origins):
        methods: dict[str, list[Forecast]] = {}
        if model is not None:
            methods["rnnkit"], used = _network(model, task, panel, network, starts, short, selection, groups)
            fell_back.update(used)
        for name in baselines:
            methods[name] = [baseline_forecast(name, v[:o], H, season, task.level, i)
                             for v, o, i in zip(panel.values, starts, panel.ids)]
        for method, forecasts in methods.items():
            for i, (v, o, f) in enumerate(zip(panel.values, starts, forecasts)):
                by = method if method != "rnnkit" else fell_back.get(panel.ids[i], "network")
                metrics = score(v[o:o + H], f.point, v[:o], season, f.lower, f.upper)
                rows.append({"method": method, "fold": k, "series_id": panel.ids[i], "origin": o, "forecast_by": by,
                             **metrics})
    return rows


def _network(model: nn.Module, task: Any, panel: Panel, network: Panel, starts: Sequence[int],
             short: Sequence[str], selection: dict[str, Any] | None = None,
             groups: Sequence[str] | None = None) -> tuple[list[Forecast], dict[str, str]]:
    """The model's forecasts of the series of `network` and those of the `short` rest by the best
    network-free method on validation (short.fallback), with {short series: that method}."""
    position = {name: i for i, name in enumerate(panel.ids)}
    mine_groups = None if groups is None else [groups[position[name]] for name in network.ids]
    mine = predict(model, task, network, [starts[position[name]] for name in network.ids], selection=selection,
                   groups=mine_groups)
    rest, methods = fallback(task, panel, short, [starts[position[name]] for name in short], selection=selection,
                             groups=groups)
    by_name = dict(zip([*network.ids, *short], [*mine, *rest]))
    return [by_name[name] for name in panel.ids], dict(zip(short, methods))


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean of each metric per method over folds and series (NaN MASE values left out)."""
    out: dict[str, dict[str, float]] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        keys = [k for k in mine[0] if k not in ("method", "fold", "series_id", "origin", "forecast_by")]
        out[method] = {k: float(np.nanmean([r.get(k, np.nan) for r in mine])) for k in keys}
    return out
