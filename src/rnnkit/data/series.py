"""Time series in: long or single-series tables, checked; per-series scaling; calendar features; windows.

    panel = load_series("sales.csv")                    # columns series_id, timestamp, value[, covariates...]
    panel = load_series("air.csv")                      # or timestamp, value: one series
    panel = load_series("demand.csv", id_col="", time_col="Time", value_col="Demand",
                        covariates=["Temperature", "Holiday"])    # the user's names; booleans become 0/1
    scaler = Scaler.fit(panel.values, kind="standard")  # per series; fit it on training points only
    x, y, owner = windows(scaler.transform(panel.values), input_size=24, horizon=12, ends=cutoffs)

Bad input is an error naming the series and the row: duplicate or decreasing timestamps, spacing
that does not follow the frequency, NaN or non-numeric values (or a fill policy: `missing="ffill"`
or `"interpolate"`), an unparseable timestamp. Rows are counted from 0 over the table's data rows
(a CSV file's line is the row + 2). Nothing is dropped silently: every series in the table is in
the panel, and a series too short for a window is an error (`check_lengths`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .tables import SeriesError as SeriesError
from .tables import encode, one_hot_names, parse_times, read_table

ID, TIME, VALUE = "series_id", "timestamp", "value"
MISSING = ("error", "ffill", "interpolate")


@dataclass(frozen=True)
class Panel:
    """Series of one frequency. `values[i]` is (T_i,) float64; `covariates[i]` is (T_i, C) past
    covariates from the table's extra columns; `times[i]` the timestamps (a DatetimeIndex, or
    integers when the table's timestamps are integers, freq "int")."""

    ids: list[str]
    values: list[np.ndarray]
    times: list[Any]
    freq: str
    covariates: list[np.ndarray] = field(default_factory=list)
    covariate_names: tuple[str, ...] = ()
    categories: dict[str, list[str]] = field(default_factory=dict)   # categorical column -> its one-hot order

    def __len__(self) -> int:
        return len(self.ids)

    def future_times(self, i: int, horizon: int) -> Any:
        """The `horizon` timestamps after series i's last one."""
        last = self.times[i][-1]
        if self.freq == "int":
            return np.arange(last + 1, last + 1 + horizon)
        import pandas as pd

        return pd.date_range(last, periods=horizon + 1, freq=self.freq)[1:]

    def encoded(self, columns: Sequence[str]) -> list[str]:
        """The covariate names the table's `columns` became (a categorical one: one per category)."""
        return [n for c in columns for n in (one_hot_names(c, self.categories[c]) if c in self.categories else [c])]

    def columns(self) -> list[str]:
        """The table's covariate columns, each once (`encoded` undone)."""
        of = {n: c for c, cats in self.categories.items() for n in one_hot_names(c, cats)}
        return list(dict.fromkeys(of.get(n, n) for n in self.covariate_names))

    def subset(self, keep: Sequence[int]) -> Panel:
        """The series at positions `keep`."""
        pick = lambda items: [items[i] for i in keep]
        return dataclasses.replace(self, ids=pick(self.ids), values=pick(self.values), times=pick(self.times),
                                   covariates=pick(self.covariates) if self.covariates else [])


def load_series(source: Any, *, freq: str | None = None, missing: str = "error", id_col: str = ID,
                time_col: str = TIME, value_col: str = VALUE, covariates: Sequence[str] | None = None,
                categories: Mapping[str, Sequence[str]] | None = None, ignore: Sequence[str] = ()) -> Panel:
    """Reads and checks a long table (id, time, value, covariates...) or a single series (time, value).
    `id_col` "" (or the default "series_id" absent) means one series. `covariates`: the columns to read
    as covariates (None: every other column), encoded as numbers (`tables.encode`; `categories`:
    those of a trained model). `freq` is a pandas offset alias ("MS", "D", "h", ...) or "int"; None
    infers it. `ignore`: columns that are never covariates (a group column)."""
    import pandas as pd

    if missing not in MISSING:
        raise SeriesError(f"missing = {missing!r} is not known; choose one of {list(MISSING)}")
    table, where = read_table(source)
    id_col, extra = _columns(table, where, id_col, time_col, value_col, covariates)
    extra = [c for c in extra if c not in ignore]
    if not id_col:
        id_col = "_series"
        table = table.assign(**{id_col: "series"})
    table, names, found = encode(table, extra, categories, where)
    table = table.assign(_row=np.arange(len(table)))
    times = parse_times(table[time_col], table["_row"].to_numpy())
    table = table.assign(**{time_col: times})
    ids, values, stamps, columns, freqs = [], [], [], [], {}
    for key, group in table.groupby(id_col, sort=False):
        name, rows = str(key), group["_row"].to_numpy()
        t = group[time_col]
        _check_order(name, t.to_numpy(), rows)
        index = pd.Index(t.to_numpy()) if freq == "int" or t.dtype.kind in "iu" else pd.DatetimeIndex(t)
        freqs[name] = _check_spacing(name, index, rows, freq)
        ids.append(name)
        values.append(_numeric(name, value_col, group[value_col], rows, missing))
        numbers = [_numeric(name, c, group[c], rows, missing) for c in names]
        columns.append(np.stack(numbers, axis=1) if numbers else np.zeros((len(group), 0)))
        stamps.append(index)
    kinds = set(freqs.values())
    if len(kinds) > 1:
        first = next(iter(freqs.items()))
        other = next((n, f) for n, f in freqs.items() if f != first[1])
        raise SeriesError(f"series have different frequencies: {first[0]!r} is {first[1]!r} but {other[0]!r} is "
                          f"{other[1]!r}; split the table or give freq=")
    return Panel(ids, values, stamps, kinds.pop(), columns, names, found)


def _columns(table: Any, where: str, id_col: str, time_col: str, value_col: str,
             covariates: Sequence[str] | None) -> tuple[str, list[str]]:
    """The id column ("" for one series) and the covariate columns; an error naming the file, the
    column it lacks, the columns it has and the task key that names the column."""
    have = list(table.columns)
    needed = [(time_col, "timestamps", "task.time_column"), (value_col, "values", "task.value_column")]
    if id_col and id_col != ID:                       # named by the user: absent is a mistake, not one series
        needed.append((id_col, "series ids", "task.id_column; '' for a single series"))
    for name, what, key in needed:
        if name not in have:
            raise SeriesError(f"{where} has no column {name!r} for the {what} ({key}); its columns are {have}")
    id_col = id_col if id_col in have else ""
    if covariates is None:
        return id_col, [c for c in have if c not in (id_col, time_col, value_col)]
    clash = [c for c in covariates if c in (id_col, time_col, value_col)]
    if clash:
        raise SeriesError(f"task.covariates names {clash[0]!r}, which is the id, time or value column")
    absent = [c for c in covariates if c not in have]
    if absent:
        raise SeriesError(f"{where} has no covariate column {absent[0]!r} (task.covariates, "
                          f"task.future_covariates); its columns are {have}")
    return id_col, list(covariates)


def _check_order(name: str, t: np.ndarray, rows: np.ndarray) -> None:
    step = np.diff(t)
    zero = type(step[0])(0) if len(step) else 0
    for where, what in ((step == zero, "duplicate"), (step < zero, "decreasing")):
        hit = np.flatnonzero(where)
        if len(hit):
            k = hit[0] + 1
            raise SeriesError(f"series {name!r}: {what} timestamp {t[k]} at row {rows[k]} (after {t[k - 1]} at "
                              f"row {rows[k - 1]}); timestamps must increase strictly")


def _check_spacing(name: str, index: Any, rows: np.ndarray, freq: str | None) -> str:
    """The series' frequency; an error at the first row off the regular grid."""
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        if freq is None:
            freq = pd.infer_freq(index) if len(index) >= 3 else None
            if freq is None:
                freq = pd.infer_freq(index[:3]) if len(index) >= 3 else None
            if freq is None:
                raise SeriesError(f"series {name!r}: cannot infer the frequency from its first timestamps "
                                  f"(rows {rows[0]}..{rows[min(2, len(rows) - 1)]}); give freq=")
        grid = pd.date_range(index[0], periods=len(index), freq=freq)
    else:
        freq, grid = "int", np.arange(index[0], index[0] + len(index))
    off = np.flatnonzero(np.asarray(grid) != np.asarray(index))
    if len(off):
        k = off[0]
        raise SeriesError(f"series {name!r}: irregular spacing at row {rows[k]}: timestamp {index[k]} where "
                          f"frequency {freq!r} expects {grid[k]}")
    return freq


def _numeric(name: str, column: str, data: Any, rows: np.ndarray, missing: str) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(data, errors="coerce").to_numpy(dtype=np.float64)
    nan = np.isnan(values)
    text = nan & data.notna().to_numpy()
    if text.any():
        k = np.flatnonzero(text)[0]
        raise SeriesError(f"series {name!r}: {column} {data.iloc[k]!r} at row {rows[k]} is not a number")
    if nan.any():
        k = np.flatnonzero(nan)[0]
        if missing == "error":
            raise SeriesError(f"series {name!r}: {column} is missing (NaN) at row {rows[k]}; fill it, or set "
                              f"missing = 'ffill' or 'interpolate'")
        filled = pd.Series(values)
        filled = filled.ffill() if missing == "ffill" else filled.interpolate(limit_direction="both")
        values = filled.bfill().to_numpy()
        if np.isnan(values).any():
            raise SeriesError(f"series {name!r}: {column} has no values to fill from")
    return values


def check_lengths(panel: Panel, need: int, what: str = "input window + horizon", advice: str = "") -> None:
    """An error naming every series shorter than `need` points (never a silent drop); `advice`
    (what to do about it) ends the message."""
    short = [(i, len(v)) for i, v in zip(panel.ids, panel.values) if len(v) < need]
    if short:
        listed = ", ".join(f"{i!r} ({n} points)" for i, n in short[:5])
        more = f" and {len(short) - 5} more" if len(short) > 5 else ""
        end = f"; {advice}" if advice else ""
        raise SeriesError(f"{len(short)} series are shorter than {what} = {need}: {listed}{more}{end}")


@dataclass(frozen=True)
class Scaler:
    """Per-series affine scaling z = (y - shift) / scale. "standard": mean and standard deviation;
    "mean": scale by the mean absolute value (shift 0), as DeepAR does; "none": identity."""

    shift: np.ndarray          # (S,)
    scale: np.ndarray          # (S,)

    @classmethod
    def fit(cls, values: Sequence[np.ndarray], kind: str = "standard") -> Scaler:
        if kind not in ("standard", "mean", "none"):
            raise SeriesError(f"scale = {kind!r} is not known; choose 'standard', 'mean' or 'none'")
        # Statistics of v / max|v|, times max|v|: the squares of values above ~1e154 overflow float64,
        # and a std of inf would scale the series to all zeros without a word.
        peak = [float(np.abs(v).max()) if len(v) and np.abs(v).max() > 0 else 1.0 for v in values]
        shift = np.array([(v / p).mean() * p if kind == "standard" else 0.0 for v, p in zip(values, peak)])
        if kind == "standard":
            scale = np.array([(v / p).std() * p for v, p in zip(values, peak)])
        elif kind == "mean":
            scale = np.array([np.abs(v / p).mean() * p for v, p in zip(values, peak)])
        else:
            scale = np.ones(len(values))
        scale = np.where(scale > 0, scale, 1.0)              # a constant series keeps its scale
        return cls(shift, scale)

    def transform(self, values: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [(v - s) / c for v, s, c in zip(values, self.shift, self.scale)]

    def inverse(self, values: Sequence[np.ndarray], index: Sequence[int] | None = None) -> list[np.ndarray]:
        """Back to the series' units; `index` names each array's series (default 0, 1, ...)."""
        index = range(len(values)) if index is None else index
        return [v * self.scale[i] + self.shift[i] for v, i in zip(values, index)]


def calendar(times: Any, freq: str) -> np.ndarray:
    """Known-future features from timestamps, (T, F) in [-1, 1]: sin/cos of the position in the
    year (sub-yearly data), in the week (daily and finer) and in the day (hourly and finer)."""
    import pandas as pd

    if freq == "int" or not isinstance(times, pd.DatetimeIndex):
        return np.zeros((len(times), 0))
    origin = pd.Timestamp("2001-01-01")
    nanos = origin + pd.tseries.frequencies.to_offset(freq) - origin         # one step, as a duration
    cycles = []
    if nanos < pd.Timedelta(days=360):
        cycles.append((times.dayofyear.to_numpy() - 1) / 366.0)
    if nanos <= pd.Timedelta(days=1):
        cycles.append(times.dayofweek.to_numpy() / 7.0)
    if nanos < pd.Timedelta(days=1):
        cycles.append((times.hour.to_numpy() + times.minute.to_numpy() / 60.0) / 24.0)
    if not cycles:
        return np.zeros((len(times), 0))
    angle = 2 * np.pi * np.stack(cycles, axis=1)
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)


def windows(values: Sequence[np.ndarray], input_size: int, horizon: int, ends: Sequence[int], *,
            features: Sequence[np.ndarray] | None = None, stride: int = 1
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (input, target) pair of series i whose target lies wholly before `ends[i]`.

    Returns inputs (N, input_size, 1 + F) = value and features, targets (N, horizon) and each
    window's series index (N,). Points at or after ends[i] are never read, so windows cut at a
    validation or test cutoff cannot see the held-out values."""
    xs, ys, owner = [], [], []
    for i, (v, end) in enumerate(zip(values, ends)):
        v = np.asarray(v[:end], dtype=np.float64)
        f = np.zeros((end, 0)) if features is None else np.asarray(features[i][:end], dtype=np.float64)
        starts = np.arange(0, end - input_size - horizon + 1, stride)
        if len(starts) == 0:
            continue
        past = np.concatenate([v[:, None], f], axis=1)
        xs.append(np.stack([past[s:s + input_size] for s in starts]))
        ys.append(np.stack([v[s + input_size:s + input_size + horizon] for s in starts]))
        owner.append(np.full(len(starts), i))
    if not xs:
        raise SeriesError(f"no series has {input_size + horizon} points before its cutoff for a window")
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(owner)
