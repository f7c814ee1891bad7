"""What each split of a forecasting run holds (`Splits.ids`, written to RUN_DIR/split.json), and the
task's baselines scored on exactly those windows with the metrics `Forecasting.evaluate` reports.

    {"input_size": 24, "horizon": 12, "holdout": 2, "cut": 0, "stride": 1,
     "train": {"s0": {"end": 72, "last": "2005-12-01 00:00:00"}, ...},   # windows end before `end`
     "valid": {"s0": {"origin": 72, "at": "2006-01-01 00:00:00"}, ...},  # the forecast starts here
     "test": {"s0": {"origin": 84, "at": "2007-01-01 00:00:00"}, ...},
     "short": {"policy": "drop", "series": ["s7"]}}                    # only when some were short

Indices count from each series' first point, after the last `cut` points are removed. Baselines
(`task.baseline_methods`: seasonal naive, ETS and Theta by default; the last two need statsforecast)
see each series' values before the split's origin and are scored on the `horizon` points after it,
in the units `evaluate` reports the network in: window forecasters on the scaled values (each series
by its statistics before its training cut, each window by its inputs' mean |value| under scale =
"window"), ES-RNN relative to the last value before the origin (plus esrnn.offset), with sMAPE
on the values themselves.
A baseline that cannot forecast some series (statsforecast missing, too short a history for ETS) is
left out with a warning: a row must cover every window of the split to compare.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...data.series import Panel
from ...forecast.baselines import Forecast, baseline_forecast
from ...forecast.metrics import smape
from ..base import Metrics
from .esrnn import offset
from .windows import scaler, window_scale


def split_ids(task: Any, panel: Panel, cuts: Sequence[int], short: Sequence[str]) -> dict[str, Any]:
    """`Splits.ids` of the panel a run trains on, whose series i is cut at cuts[i]."""
    L, H = task.input_size, task.horizon
    at = lambda i, k: _json_time(panel.times[i][k])
    valid = [(i, c if task.holdout else c - H) for i, c in enumerate(cuts)]
    ids: dict[str, Any] = {
        "input_size": L, "horizon": H, "holdout": task.holdout, "cut": task.cut, "stride": task.stride,
        "train": {panel.ids[i]: {"end": c, "last": at(i, c - 1)} for i, c in enumerate(cuts)},
        "valid": {panel.ids[i]: {"origin": o, "at": at(i, o)} for i, o in valid if o >= L}}
    if task.holdout == 2:
        ids["test"] = {panel.ids[i]: {"origin": c + H, "at": at(i, c + H)} for i, c in enumerate(cuts)}
    if short:
        ids["short"] = {"policy": task.short_series, "series": list(short)}
    return ids


def scores(task: Any, panel: Panel, ids: dict[str, Any], split: str) -> dict[str, Metrics]:
    """{baseline: metrics} on the windows ids[split] names (see the module docstring)."""
    w = _windows(task, panel, ids, split)
    if not w.index:                          # no series long enough to be scored on it
        return {}
    H, season = task.horizon, task.period(panel)
    out = {}
    for name in task.baseline_methods:
        try:
            forecasts = [baseline_forecast(name, panel.values[i][:o], H, season, task.level, panel.ids[i])
                         for i, o in zip(w.index, w.origins)]
        except ValueError as error:          # statsforecast missing, or a series it cannot fit
            warnings.warn(f"the {name!r} baseline is left out of the {split} scores: {error}", stacklevel=3)
            continue
        out[name] = _metrics(task, w, forecasts)
    return out


def forecast_scores(task: Any, panel: Panel, ids: dict[str, Any], split: str,
                    forecast: Callable[[Panel, list[int]], Sequence[Forecast]]) -> Metrics | None:
    """The metrics of `forecast(series, origins)` (one Forecast per series of the sub-panel, from its
    origin: e.g. a run's validated selection) on the windows ids[split] names, in the same units as
    `scores`; None when no series is scored on that split."""
    w = _windows(task, panel, ids, split)
    if not w.index:
        return None
    return _metrics(task, w, forecast(panel.subset(w.index), w.origins))


@dataclass(frozen=True)
class _Windows:
    """The windows of one split: each scored series' panel index and forecast origin, the values
    it is scored on, and evaluate's units for it, (y - shift) / divisor."""

    index: list[int]
    origins: list[int]
    targets: list[np.ndarray]
    shift: np.ndarray
    divisor: np.ndarray


def _windows(task: Any, panel: Panel, ids: dict[str, Any], split: str) -> _Windows:
    if split not in ids:
        raise ValueError(f"this run has no {split!r} split (task.holdout = {task.holdout}); choose from "
                         f"{[s for s in ('valid', 'test') if s in ids]}")
    position = {name: i for i, name in enumerate(panel.ids)}
    index, origins = [position[name] for name in ids[split]], [ids[split][name]["origin"] for name in ids[split]]
    targets = [panel.values[i][o:o + task.horizon] for i, o in zip(index, origins)]
    if not index:
        return _Windows(index, origins, targets, np.zeros(0), np.zeros(0))
    return _Windows(index, origins, targets, *_units(task, panel, ids, index, origins))


def _units(task: Any, panel: Panel, ids: dict[str, Any], index: Sequence[int],
           origins: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per scored series (shift, divisor): evaluate's units are (y - shift) / divisor."""
    if task.forecaster == "esrnn":
        v = [panel.values[i][:o] for i, o in zip(index, origins)]
        return np.zeros(len(index)), np.array([h[-1] + offset(h) for h in v])
    values = [panel.values[i] for i in index]
    fitted = scaler(values, [ids["train"][panel.ids[i]]["end"] for i in index], task.scale)
    z = fitted.transform(values)
    L = task.input_size
    window = window_scale(task, np.stack([v[o - L:o, None] for v, o in zip(z, origins)]))
    return fitted.shift, fitted.scale * window


def _metrics(task: Any, w: _Windows, forecasts: Sequence[Forecast]) -> Metrics:
    """mae, rmse and coverage summed over every point of the windows as `evaluate` does (ES-RNN:
    and the mean sMAPE)."""
    units = lambda a, i: (np.asarray(a, dtype=np.float64) - w.shift[i]) / w.divisor[i]
    abs_sum = sq_sum = inside = count = 0.0
    for i, (y, f) in enumerate(zip(w.targets, forecasts)):
        error = units(f.point, i) - units(y, i)
        abs_sum += float(np.abs(error).sum())
        sq_sum += float((error ** 2).sum())
        if f.lower is not None and f.upper is not None:
            inside += float(((f.lower <= y) & (y <= f.upper)).sum())
        count += len(y)
    out = {"mae": abs_sum / count, "rmse": (sq_sum / count) ** 0.5, "coverage": inside / count}
    if task.forecaster == "esrnn":
        out["smape"] = float(np.mean([smape(y, f.point) for y, f in zip(w.targets, forecasts)]))
    return out


def _json_time(t: Any) -> Any:
    return int(t) if isinstance(t, (int, np.integer)) else str(t)
