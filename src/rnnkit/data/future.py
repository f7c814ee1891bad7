"""Known-future covariates over the forecast horizon: a panel continued `horizon` steps past each
series' end, with the known columns read from a separate table.

    panel = load_series("sales.csv")                                  # history: value, promo, temperature
    ahead = extend(panel, 6, ["promo"], "promo_plan.csv")             # series_id, timestamp, promo

The continued steps get the next timestamps of the series' frequency, NaN values, the named
covariates from the table and NaN for every other (past-only) covariate, so anything that reads
past the history by mistake turns into a NaN error rather than a silent leak. A step with no row in
the table, or with an empty or non-numeric cell, is an error naming the series, the step and the row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from .series import ID, TIME, Panel
from .tables import SeriesError, encode, parse_times, read_table


def extend(panel: Panel, horizon: int, names: Sequence[str] = (), source: Any = None, *, id_col: str = ID,
           time_col: str = TIME) -> Panel:
    """`panel` with `horizon` more steps per series; covariates `names` (table columns; a categorical
    one is encoded with the panel's categories) from `source` (a DataFrame, CSV or Parquet in long
    format: id_col, time_col, names...; no id column for one series). Without names, source may be None."""
    import pandas as pd

    unknown = [n for n in names if n not in panel.covariate_names and n not in panel.categories]
    if unknown:
        raise SeriesError(f"future covariate {unknown[0]!r} is not a column of the series table; its covariates "
                          f"are {list(panel.covariate_names)}")
    if names and source is None:
        ids = f" ({id_col} too, for several series)" if id_col and len(panel) > 1 else ""
        raise SeriesError(f"the known-future covariates {list(names)} need their values over the {horizon}-step "
                          f"horizon: give a table of {time_col} and those columns{ids} (CLI: --future=FILE)")
    lookup: dict[tuple[str, Any], int] = {}
    table = None
    if names:
        table, where = read_table(source)
        where = "the future covariates table" + ("" if where == "the table" else f" {where}")
        missing = [c for c in (time_col, *names) if c not in table.columns]
        if missing:
            raise SeriesError(f"{where} has no {missing[0]!r} column; its columns are {list(table.columns)}")
        ids = table[id_col].astype(str) if id_col in table.columns else pd.Series(["series"] * len(table))
        stamps = parse_times(table[time_col], np.arange(len(table)))
        lookup = {(i, _key(t)): row for row, (i, t) in enumerate(zip(ids, stamps))}
        table, _, _ = encode(table, list(names), panel.categories, where)
    names = panel.encoded(names)
    columns = [panel.covariate_names.index(n) for n in names]
    values, times, covariates = [], [], []
    for i, name in enumerate(panel.ids):
        future = panel.future_times(i, horizon)
        ahead = np.full((horizon, len(panel.covariate_names)), np.nan)
        for k, t in enumerate(future):
            if table is None:
                break
            row = lookup.get((name, _key(t)))
            if row is None:
                raise SeriesError(f"series {name!r}: the future covariates table has no row for timestamp {t} "
                                  f"(forecast step {k + 1} of {horizon}); every known-future covariate is needed "
                                  "over the whole horizon")
            for c, n in zip(columns, names):
                cell = pd.to_numeric(pd.Series([table[n].iloc[row]]), errors="coerce").iloc[0]
                if np.isnan(cell):
                    raise SeriesError(f"series {name!r}: covariate {n!r} is missing or not a number "
                                      f"({table[n].iloc[row]!r}) at row {row} of the future covariates table "
                                      f"(timestamp {t}, forecast step {k + 1} of {horizon})")
                ahead[k, c] = cell
        values.append(np.concatenate([panel.values[i], np.full(horizon, np.nan)]))
        times.append(pd.Index(panel.times[i]).append(pd.Index(future)))
        covariates.append(np.concatenate([panel.covariates[i], ahead]))
    return dataclasses.replace(panel, ids=list(panel.ids), values=values, times=times, covariates=covariates)


def _key(t: Any) -> Any:
    """A hashable timestamp that compares equal across numpy, pandas and int representations."""
    import pandas as pd

    return int(t) if isinstance(t, (int, np.integer)) else pd.Timestamp(t)
