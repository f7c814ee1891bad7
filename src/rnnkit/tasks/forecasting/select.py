"""Validated selection (task.select = "validate"): after training, the network, Theta, ETS and their
combinations forecast each series' validation window (the last horizon before the test part, which
training never read), and the one with the lowest mean MASE is kept, per group of series.

Why: a global network does not beat the statistical methods on every panel (on M3 monthly the
plain LSTM loses to Theta; Makridakis, Spiliotis & Assimakopoulos 2018), and combinations of a
learned model with Theta and ETS are among the most dependable forecasts (M4: Makridakis et al.
2020; Smyl 2020 combined too). Choosing among a handful of candidates on held-out windows, the
same protocol as benchmarks/forecast_m3.py --validate, keeps the default from losing to the first
baseline a practitioner tries while letting the network win where it validates better.

Which candidate: with task.select_rule = "one_se" (the default), the candidate with the most members
among those whose validation MASE is within one standard error of the best one's (the error of the
paired per-series differences; ties: the lower validation MASE), else the lowest (`"best"`). One
validation window per series is a noisy judge, and picking its single winner overfits it: forecast
combinations beat the individually best-validated method far more often than the validation
scores suggest (the "forecast combination puzzle", Smith & Wallis 2009; Claeskens et al. 2016), so
a combination is given up only for a method that validates clearly better. This is the
one-standard-error rule of Breiman et al. (1984; Hastie, Tibshirani & Friedman 2009, sec. 7.10) with
"more members" in the place of "simpler". A group of one series has no spread to measure and keeps
its best.

A group is the whole panel (named by its frequency: a run has one) or, with task.select_by, the
series sharing a value of that column (e.g. an M3 category). The choice is kept in the run's
meta.json under "selection":

    {"by": "", "rule": "one_se", "choice": {"MS": "median(network,theta,ets)"},
     "default": "median(network,theta,ets)", "valid_mase": {"MS": {"network": 1.02, "theta": 0.97, ...}},
     "valid_se": {"MS": {"network": 0.03, ...}},
     "without_network": {"choice": {"MS": "mean(theta,ets)"}, "default": "mean(theta,ets)"}, "test_mase": {...}}

("valid_se": each candidate's standard error of its difference from the group's best;
"without_network": the same rule among the candidates that do not read the network, for the series
too short for it) and every forecast of the run (`rnnkit.load(run).predict`, `rnnkit forecast predict|backtest`)
uses it (`apply`); a group unseen in training uses "default", the best over all series. The test
MASE of every candidate is recorded beside the choice, never used to make it.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from ...data.series import Panel, SeriesError
from ...data.tables import read_table
from ...forecast.baselines import Forecast, baseline_forecast
from ...forecast.combine import combine
from ...forecast.metrics import mase
from ...train.one_se import one_se, standard_errors

SELECT = ("validate", "network")
RULES = ("one_se", "best")
NETWORK = "network"
# candidate -> (members, how): the network, the two statistical methods M3 is judged against, and
# the combinations benchmarks/forecast_m3.py --validate compared (docs/results.md)
CANDIDATES: dict[str, tuple[tuple[str, ...], str]] = {
    NETWORK: ((NETWORK,), "mean"),
    "theta": (("theta",), "mean"),
    "ets": (("ets",), "mean"),
    "mean(network,theta)": ((NETWORK, "theta"), "mean"),
    "mean(theta,ets)": (("theta", "ets"), "mean"),
    "median(network,theta,ets)": ((NETWORK, "theta", "ets"), "median"),
    "mean(network,theta,ets)": ((NETWORK, "theta", "ets"), "mean"),
}


def groups_of(task: Any, panel: Panel, source: Any = None) -> list[str]:
    """Each series' group: the frequency, or its task.select_by value in the table `source`."""
    if not task.select_by:
        return [panel.freq] * len(panel)
    table, where = read_table(source)
    id_col = task.id_column if task.id_column in table.columns else None
    if task.select_by not in table.columns:
        raise SeriesError(f"{where} has no column {task.select_by!r} (task.select_by: the column naming each "
                          f"series' group); its columns are {list(table.columns)}")
    if id_col is None:
        first = {"series": str(table[task.select_by].iloc[0])}
    else:
        first = {str(k): str(v) for k, v in table.groupby(id_col, sort=False)[task.select_by].first().items()}
    return [first.get(name, "") for name in panel.ids]


def member_forecasts(task: Any, panel: Panel, starts: Sequence[int], network: Sequence[Forecast],
                     names: Sequence[str]) -> dict[str, list[Forecast]]:
    """{member: each series' forecast from starts[i]}: the network's as given, the baselines' fitted
    on values[:starts[i]]; a baseline that cannot forecast every series is left out with a warning."""
    out = {NETWORK: list(network)}
    season = task.period(panel)
    for name in names:
        if name == NETWORK:
            continue
        try:
            out[name] = [baseline_forecast(name, v[:o], task.horizon, season, task.level, i)
                         for v, o, i in zip(panel.values, starts, panel.ids)]
        except ValueError as error:            # statsforecast missing, or a series it cannot fit
            warnings.warn(f"validated selection: {name!r} is left out of the candidates: {error}", stacklevel=3)
    return out


def candidate(members: dict[str, list[Forecast]], name: str, i: int) -> Forecast:
    """Series i's forecast by candidate `name`."""
    parts, how = CANDIDATES[name]
    return members[parts[0]][i] if len(parts) == 1 else combine([members[p][i] for p in parts], how)


def per_series(task: Any, panel: Panel, starts: Sequence[int], members: dict[str, list[Forecast]],
               groups: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """{group: {candidate: each of the group's series' MASE}} of the horizon after starts[i]; NaN
    where a series' MASE is undefined (a constant history)."""
    season, H = task.period(panel), task.horizon
    usable = [c for c, (parts, _) in CANDIDATES.items() if all(p in members for p in parts)]
    out: dict[str, dict[str, list[float]]] = {}
    for i, (v, o, g) in enumerate(zip(panel.values, starts, groups)):
        for name in usable:
            try:
                value = mase(v[o:o + H], candidate(members, name, i).point, v[:o], season)
            except ValueError:
                value = float("nan")
            out.setdefault(g, {}).setdefault(name, []).append(value)
    return {g: {name: np.asarray(a, dtype=float) for name, a in row.items()} for g, row in out.items()}


def means(values: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, float]]:
    """{group: {candidate: mean MASE over the group's series}}, series with an undefined MASE left out."""
    mean = lambda a: float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")
    return {g: {name: mean(a) for name, a in row.items()} for g, row in values.items()}


def pick(row: dict[str, np.ndarray], rule: str, among: Sequence[str] | None = None) -> str | None:
    """The candidate `rule` keeps from one group's per-series validation MASE (see the module
    docstring), only from `among` when given; None when nothing could be scored."""
    row = {k: a for k, a in row.items() if among is None or k in among}
    return one_se(row, (lambda k: 0) if rule == "best" else (lambda k: -len(CANDIDATES[k][0])))


def choose(valid: dict[str, dict[str, np.ndarray]], rule: str = "one_se", among: Sequence[str] | None = None
           ) -> tuple[dict[str, str], str]:
    """The candidate `rule` keeps per group and over all series (the groups pooled); the network
    where nothing could be scored."""
    pooled: dict[str, list[np.ndarray]] = {}
    for row in valid.values():
        for name, a in row.items():
            pooled.setdefault(name, []).append(a)
    every = {k: np.concatenate(v) for k, v in pooled.items() if len(v) == len(valid)}
    fallback = NETWORK if among is None else ""
    return ({g: pick(row, rule, among) or fallback for g, row in valid.items()},
            pick(every, rule, among) or fallback)


def select(task: Any, model: nn.Module, panel: Panel, ids: dict[str, Any], groups: Sequence[str],
           predict: Any) -> dict[str, Any]:
    """The selection (see the module docstring) on the run's validation windows, `ids` its recorded
    split; `predict(model, task, panel, starts)` gives the network's forecasts."""
    plain = dataclasses.replace(task, combine=(), select="network")
    names = sorted({p for parts, _ in CANDIDATES.values() for p in parts})
    free = [c for c, (parts, _) in CANDIDATES.items() if NETWORK not in parts]
    rule = task.select_rule
    result: dict[str, Any] = {"by": task.select_by, "rule": rule}
    for split in ("valid", "test"):
        if split not in ids or not ids[split]:
            continue
        index = [panel.ids.index(name) for name in ids[split]]
        part, starts = panel.subset(index), [ids[split][name]["origin"] for name in ids[split]]
        members = member_forecasts(task, part, starts, predict(model, plain, part, starts), names)
        values = per_series(task, part, starts, members, [groups[i] for i in index])
        result[f"{split}_mase"] = means(values)
        if split == "valid":
            result["valid_se"] = {g: standard_errors(row) for g, row in values.items()}
            result["choice"], result["default"] = choose(values, rule)
            by_group, overall = choose(values, rule, among=free)
            result["without_network"] = {"choice": {g: c for g, c in by_group.items() if c}, "default": overall}
    result.setdefault("choice", {})
    result.setdefault("default", NETWORK)
    return result


def without_network(selection: dict[str, Any] | None, groups: Sequence[str], fallback: str) -> list[str]:
    """For series the network cannot forecast (too short, task.short_series = "baseline"): each
    one's candidate that does not read the network, kept on validation by the run's rule for its
    group (a group unseen in training: the one over all groups); `fallback` without a selection. On M3 monthly a
    fifth of the series are too short for a 36-month window, and seasonal naive for them cost the
    panel more than the network gained elsewhere."""
    chosen = (selection or {}).get("without_network")
    if chosen:                  # decided at validation by the run's rule
        return [chosen["choice"].get(g) or chosen["default"] or fallback for g in groups]
    rows = (selection or {}).get("valid_mase", {})        # a run from before "without_network": the lowest
    free = [c for c, (parts, _) in CANDIDATES.items() if NETWORK not in parts]

    def best(row: dict[str, float]) -> str:
        finite = [(row[c], c) for c in free if np.isfinite(row.get(c, np.nan))]
        return min(finite)[1] if finite else fallback

    overall = {c: float(np.nanmean([r.get(c, np.nan) for r in rows.values()])) for c in free} if rows else {}
    return [best(rows.get(g, overall)) if rows else fallback for g in groups]


def apply(selection: dict[str, Any], task: Any, panel: Panel, starts: Sequence[int],
          network: Sequence[Forecast], groups: Sequence[str]) -> list[Forecast]:
    """Each series' forecast by its group's chosen candidate (the network's are given)."""
    methods = [selection["choice"].get(g, selection["default"]) for g in groups]
    names = sorted({p for m in set(methods) for p in CANDIDATES[m][0]})
    members = member_forecasts(task, panel, starts, network, names)
    missing = sorted(set(names) - set(members))
    if missing:
        raise SeriesError(f"the run chose {sorted(set(methods))} on validation, which need {missing}; install "
                          "statsforecast (pip install 'rnnkit[forecast]') or retrain with task.select = 'network'")
    return [candidate(members, m, i) for i, m in enumerate(methods)]


def forecast_by(task: Any, panel: Panel, starts: Sequence[int], methods: Sequence[str]) -> list[Forecast]:
    """Each series' forecast from starts[i] by network-free candidate methods[i] (a candidate name or
    any baseline's), as `apply` forms them."""
    names = sorted({p for m in methods for p in CANDIDATES.get(m, ((m,), "mean"))[0]})
    members = member_forecasts(task, panel, starts, [], names)
    missing = sorted(set(names) - set(members))
    if missing:
        raise SeriesError(f"the series too short for the network need {missing}; install statsforecast "
                          "(pip install 'rnnkit[forecast]') or retrain with task.select = 'network'")
    return [members[m][i] if m not in CANDIDATES else candidate(members, m, i) for i, m in enumerate(methods)]


def show(selection: dict[str, Any]) -> str:
    """One short table: each candidate's validation (and test) MASE per group, the choice marked."""
    import pandas as pd

    blocks = []
    for g, row in selection.get("valid_mase", {}).items():
        frame = pd.DataFrame({"valid MASE": row})
        if any(selection.get("valid_se", {}).get(g, {}).values()):       # all 0: one series, no spread measured
            frame["+/- SE"] = pd.Series(selection["valid_se"][g])
        if g in selection.get("test_mase", {}):
            frame["test MASE"] = pd.Series(selection["test_mase"][g])
        frame.index = [f"{n} <- chosen" if n == selection["choice"].get(g) else n for n in frame.index]
        blocks.append(f"group {g!r} ({'task.select_by = ' + repr(selection['by']) if selection['by'] else 'frequency'})"
                      f":\n{frame.sort_values('valid MASE').to_string(float_format=lambda v: f'{v:.4f}')}")
    return "\n".join(blocks)
