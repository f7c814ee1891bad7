"""A series table as read from the user's file: its columns found by name, timestamps parsed,
covariate columns turned into numbers.

    table, where = read_table("demand.csv")                  # or a DataFrame ("the table")
    table, names, categories = encode(table, ["Temperature", "Holiday", "Weekday"])
    # names: ("Temperature", "Holiday", "Weekday=Fri", "Weekday=Mon", ...)

Covariates: a column of booleans (True/False, or the text "true"/"false" in any case) becomes 0/1.
A text column none of whose values is a number is categorical: one 0/1 column per category, named
"column=category", the categories sorted. The categories found in training are kept (a run's
meta.json), and data given later is encoded with exactly those (`encode(table, columns,
categories)`), so the model reads the same columns; a value outside them is an error naming it.
Numeric columns pass through: the series reader checks their missing and non-numeric cells. A text
column of dates, or with more than MAX_CATEGORIES distinct values (a note), is no category: an
error says to leave it out.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MAX_CATEGORIES = 100
TRUTH = {"true": 1.0, "false": 0.0}


class SeriesError(ValueError):
    """The input table is not a valid set of regular time series."""


def read_table(source: Any) -> tuple[Any, str]:
    """A pandas DataFrame from a DataFrame, a .csv or a .parquet path, and how errors name it."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True), "the table"
    path = Path(source)
    if not path.is_file():
        raise SeriesError(f"series file {str(path)!r} does not exist")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = pd.read_parquet(path).reset_index(drop=True)
        else:
            table = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise SeriesError(f"{path} is empty: it needs a header row (e.g. series_id,timestamp,value) and one row "
                          "per time step") from None
    except UnicodeDecodeError as e:
        raise SeriesError(f"{path} is not UTF-8 text (byte {e.start}); convert it first, e.g. iconv -f latin1 "
                          f"-t utf-8 {path.name} > {path.stem}.utf8{path.suffix}") from None
    except (pd.errors.ParserError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SeriesError(f"{path} could not be read as a table: {first}") from None
    if table.empty:
        raise SeriesError(f"{path} has no rows after its header (columns {list(table.columns)})")
    return table, repr(str(path))


def parse_times(column: Any, rows: np.ndarray) -> Any:
    import pandas as pd

    if column.dtype.kind in "iuM":
        return column
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                    # pandas' "could not infer format" advice
        parsed = pd.to_datetime(column, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        raise SeriesError(f"timestamp {column.iloc[bad[0]]!r} at row {rows[bad[0]]} is not a date or time")
    if parsed.dtype.kind != "M":                           # datetimes pandas could not put on one clock
        raise SeriesError(f"the timestamps mix time zones, or zoned and unzoned times (e.g. {column.iloc[0]!r} at "
                          f"row {rows[0]}); write them all in one zone, or all without one")
    return parsed


def one_hot_names(column: str, categories: Sequence[str]) -> list[str]:
    return [f"{column}={c}" for c in categories]


def encode(table: Any, columns: Sequence[str], categories: Mapping[str, Sequence[str]] | None = None,
           where: str = "the table") -> tuple[Any, tuple[str, ...], dict[str, list[str]]]:
    """`table` with `columns` as numbers, the covariate names they became, and the categories of
    each categorical column. With `categories` (those found in training) no new categorical column
    is made and a value outside a column's categories is an error; without, they are found here."""
    import pandas as pd

    out, found = {}, {}
    for column in columns:
        data = table[column]
        known = None if categories is None else categories.get(column)
        if known is None and categories is None and _is_text(data) and not _is_boolean(data):
            known = _categories(data, column, [c for c in columns if c != column], where)
        if known is not None:
            found[column] = list(known)
            out.update(_one_hot(data, column, found[column], where))
        else:
            out[column] = _as_number(data) if _is_boolean(data) else data
    rest = table.drop(columns=list(columns))
    return pd.concat([rest, pd.DataFrame(out, index=table.index)], axis=1), tuple(out), found


def _categories(data: Any, column: str, others: Sequence[str], where: str) -> list[str]:
    """The sorted categories of a text column; an error for dates and for too many distinct values."""
    known = sorted({str(v) for v in data.dropna()})
    leave_out = f"leave it out: task.covariates = {json.dumps(list(others))} (the columns to read)"
    if _is_dates(data):
        raise SeriesError(f"{where}: column {column!r} holds dates or times (e.g. {known[:2]}), not numbers or "
                          f"categories; {leave_out}")
    if len(known) > MAX_CATEGORIES:
        raise SeriesError(f"{where}: column {column!r} holds text with {len(known)} distinct values (e.g. "
                          f"{known[:3]}), too many for a category (at most {MAX_CATEGORIES}); {leave_out}, or give "
                          "it as numbers")
    return known


def _one_hot(data: Any, column: str, known: list[str], where: str) -> dict[str, Any]:
    """{"column=category": 0/1 (NaN where the cell is empty)}; an error at a value outside `known`."""
    text = data.astype(object).where(data.notna(), None).astype(str)
    unseen = np.flatnonzero(data.notna().to_numpy() & ~text.isin(known).to_numpy())
    if len(unseen):
        k = unseen[0]
        raise SeriesError(f"{where}: column {column!r} holds {data.iloc[k]!r} at row {k}, a category not seen in "
                          f"training; the categories are {known}")
    return {name: (text == c).astype(float).where(data.notna()) for name, c in zip(one_hot_names(column, known), known)}


def _is_text(data: Any) -> bool:
    """Text none of whose values is a number (a numeric column with a stray word stays numeric: the
    reader names the bad cell)."""
    import pandas as pd

    if data.dtype.kind not in "OUS" and str(data.dtype) not in ("category", "string"):
        return False
    present = data.dropna()
    return len(present) > 0 and pd.to_numeric(present.astype(str), errors="coerce").isna().all()


def _is_dates(data: Any) -> bool:
    import pandas as pd

    with warnings.catch_warnings():             # "could not infer format": the answer is then no
        warnings.simplefilter("ignore")
        return bool(pd.to_datetime(data.dropna().astype(str), errors="coerce").notna().all())


def _is_boolean(data: Any) -> bool:
    if data.dtype.kind in "biufc":
        return data.dtype.kind == "b"
    present = data.dropna()
    return len(present) > 0 and all(isinstance(v, (bool, np.bool_)) or str(v).lower() in TRUTH for v in present)


def _as_number(data: Any) -> Any:
    return data.map(lambda v: v if v is None or v != v else float(TRUTH[str(v).lower()]))
