"""Series too short for what a run asks of them, and what becomes of them (task.short_series).

A series is short when it has fewer than cut + input_size + max(holdout, 1) * horizon points
(ES-RNN: holdout * horizon): too few for an input window before its validation origin, or in a
backtest before the cut that its folds start after (the held-out part comes on top of the cut, so
task.holdout = 0 asks the least). With short_series = "error" that stops the run, naming them;
"drop" leaves them out, saying which; "baseline" leaves them out of the network's training and
scores, and forecasts and backtests them instead with the method that does not read the network
which the run's selection rule keeps on validation (Theta, ETS or their mean; seasonal naive where
the run has no validated selection), marked `forecast_by`. At
predict time a series is short with fewer than input_size points, all the network reads.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from ...data.series import Panel, SeriesError, check_lengths
from ...forecast.baselines import Forecast
from .select import forecast_by, without_network

SHORT = ("error", "drop", "baseline")
FALLBACK = "seasonal_naive"          # what forecasts a short series under short_series = "baseline"
ADVICE = ("set task.short_series = 'drop' (leave them out) or 'baseline' (forecast them with a statistical method "
          "instead of the network; choices: 'error', 'drop', 'baseline'), or lower task.input_size or task.holdout")


def need(task: Any, cut: int = 0) -> tuple[int, str]:
    """The points a series needs for a run cut `cut` points before its end, and the sum spelled out."""
    L, H = task.input_size, task.horizon
    k = task.holdout if task.forecaster == "esrnn" else max(task.holdout, 1)
    parts = ([f"cut ({cut})"] if cut else []) + [f"input_size ({L})"]
    if k:
        parts.append(f"{k} * horizon ({H}; task.holdout = {task.holdout})")
    return cut + L + k * H, " + ".join(parts)


def screen(task: Any, panel: Panel, cut: int = 0, *, context: str = "") -> tuple[Panel, list[str]]:
    """The panel without its short series and their ids (see the module docstring); an error naming
    them with short_series = "error", or when every series is short."""
    total, what = need(task, cut)
    advice = ", or (a backtest) fewer --folds or a smaller --step" if cut else ""
    keep = [i for i, v in enumerate(panel.values) if len(v) >= total]
    if len(keep) == len(panel):
        return panel, []
    if not keep:
        check_lengths(panel, total, what, f"no series is long enough; lower task.input_size, task.horizon or "
                                          f"task.holdout{advice}")
    if task.short_series == "error":
        check_lengths(panel, total, what, ADVICE + advice)
    kept = set(keep)
    short = [name for i, name in enumerate(panel.ids) if i not in kept]
    listed = f"{short[:10]}" + (f" and {len(short) - 10} more" if len(short) > 10 else "")
    if task.short_series == "drop":
        warnings.warn(f"leaving out {len(short)} series shorter than {what} = {total}{context} "
                      f"(task.short_series = 'drop'): {listed}", stacklevel=3)
    else:
        warnings.warn(f"{len(short)} series shorter than {what} = {total}{context} are forecast with a statistical "
                      f"method instead of the network (task.short_series = 'baseline'): {listed}", stacklevel=3)
    return panel.subset(keep), short


def fallback(task: Any, panel: Panel, names: Sequence[str], starts: Sequence[int] | None = None, *,
             selection: dict[str, Any] | None = None, groups: Sequence[str] | None = None
             ) -> tuple[list[Forecast], list[str]]:
    """(forecasts, methods) of the series `names` from starts[i] (default: each one's end): each by
    the network-free method the run's validated `selection` keeps for its group (`groups`, one per
    series of `panel`; default: the frequency), seasonal naive without one."""
    index = [panel.ids.index(name) for name in names]
    starts = [len(panel.values[i]) for i in index] if starts is None else starts
    mine = [groups[i] for i in index] if groups is not None else [panel.freq] * len(index)
    methods = without_network(selection, mine, FALLBACK)
    return (forecast_by(task, panel.subset(index), starts, methods) if index else []), methods


def too_short_to_predict(task: Any, panel: Panel, starts: Sequence[int]) -> list[str]:
    """The series with fewer than input_size points before their origin, which the network cannot
    forecast: an error naming them with short_series = "error" (or "drop" when that leaves none)."""
    short = [name for name, o in zip(panel.ids, starts) if o < task.input_size]
    if not short:
        return short
    what = f"{len(short)} series have fewer than input_size = {task.input_size} points before the forecast origin"
    if task.short_series == "error" or (task.short_series == "drop" and len(short) == len(panel)):
        raise SeriesError(f"{what}: {short[:5]}; {ADVICE}")
    verb = "are left out (task.short_series = 'drop')" if task.short_series == "drop" else \
        "are forecast with a statistical method instead of the network (task.short_series = 'baseline')"
    warnings.warn(f"{what} and {verb}: {short[:10]}", stacklevel=3)
    return short
