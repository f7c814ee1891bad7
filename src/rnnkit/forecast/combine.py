"""Forecast combinations: the element-wise median or mean of several forecasts of one horizon.

Combining forecasts of different kinds is one of the most dependable ways to lower the error on
M3/M4-style data: most of the M4 competition's best entries were combinations (Makridakis,
Spiliotis & Assimakopoulos 2020), and a learned model's errors and a statistical method's are far
from perfectly correlated. The median of three is robust to one member going astray on a series;
the mean is the classical equal-weights combination. Intervals combine bound by bound, i.e. the
members' quantiles are averaged (or their median taken), which keeps the combined interval as
sharp as its members' (Lichtendahl, Grushka-Cockayne & Winkler 2013).

    combined = combine([rnn_forecast, theta_forecast, ets_forecast], how="median")
    forecasts = with_baselines(model_forecasts, panel.values, starts, ("theta", "ets"), horizon=18,
                               season=12, level=0.8)   # each series' model forecast, combined
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .baselines import BASELINES, Forecast, baseline_forecast

HOW = ("median", "mean")


def combine(members: Sequence[Forecast], how: str = "median") -> Forecast:
    """The element-wise median or mean of the members' points (and intervals, when all have them)."""
    if how not in HOW:
        raise ValueError(f"combination {how!r} is not known; choose one of {list(HOW)}")
    if not members:
        raise ValueError("a combination needs at least one forecast")
    lengths = {len(m.point) for m in members}
    if len(lengths) > 1:
        raise ValueError(f"combined forecasts must share one horizon, got lengths {sorted(lengths)}")
    reduce = np.median if how == "median" else np.mean
    points = np.stack([m.point for m in members])                          # (M, H)
    if any(m.lower is None or m.upper is None for m in members):
        return Forecast(reduce(points, axis=0))
    lower = reduce(np.stack([m.lower for m in members]), axis=0)           # type: ignore[misc]
    upper = reduce(np.stack([m.upper for m in members]), axis=0)           # type: ignore[misc]
    return Forecast(reduce(points, axis=0), lower, upper)


def with_baselines(forecasts: Sequence[Forecast], values: Sequence[np.ndarray], starts: Sequence[int],
                   names: Sequence[str], *, horizon: int, season: int, level: float,
                   how: str = "median", ids: Sequence[str] | None = None) -> list[Forecast]:
    """Each series' forecast combined with the named baselines' forecasts from the same origin
    (each baseline sees values[i][:starts[i]] only; `ids` name the series in errors)."""
    unknown = sorted(set(names) - set(BASELINES))
    if unknown:
        raise ValueError(f"baselines {unknown} are not known; choose from {sorted(BASELINES)}")
    ids = [str(i) for i in range(len(values))] if ids is None else ids
    out = []
    for f, v, o, name_of_series in zip(forecasts, values, starts, ids):
        others = [baseline_forecast(name, v[:o], horizon, season, level, name_of_series) for name in names]
        out.append(combine([f, *others], how))
    return out
