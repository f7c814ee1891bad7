"""One series (and optionally the input driving it) from the columns of a CSV file, for echo state
networks and other one-series tasks.

    values, inputs, name = read_series_csv("load.csv", column="mw")            # inputs is None
    values, inputs, name = read_series_csv("plant.csv", column="y", input_column="u")

The first line names the columns; a file whose first line is all numbers has no header, and its
columns are named 0, 1, ... . `column` = "" picks the only numeric column that is not a step
counter (evenly spaced values, such as 0, 1, 2, ...). Every error names the
file, and the line or column at fault, and says what to change.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np


def read_series_csv(path: str | Path, column: str = "", input_column: str = "") -> tuple[np.ndarray,
                                                                                             np.ndarray | None, str]:
    """(the values of `column` (N,), those of `input_column` (N,) or None, the column's name), float64."""
    table, header = _read(Path(path))
    name = column or _only_numeric(table, path, input_column)
    values = _numbers(table, name, path, header)
    inputs = _numbers(table, input_column, path, header) if input_column else None
    return values, inputs, name


def _read(path: Path):
    import pandas as pd

    if not path.is_file():
        raise ValueError(f"no file {str(path)!r}: task.series is mackey_glass, narma10 or the path of a CSV file")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: it needs a header line and one value per line") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text; convert it, e.g. iconv -f latin1 -t utf-8 {path.name} > "
                         f"{path.stem}.utf8.csv") from None
    except pd.errors.ParserError as error:
        raise ValueError(f"{path} is not a CSV file pandas can read: {error}") from None
    if all(_is_number(c) for c in table.columns):            # no header: the first line is data
        table = pd.read_csv(path, dtype=str, keep_default_na=False, header=None, skipinitialspace=True)
        table.columns = [str(c) for c in table.columns]
        return table, False
    return table, True


def _is_number(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def _mostly_numbers(cells: list[str]) -> bool:
    """Some numbers and nothing else but empty cells (which _numbers then reports by line)."""
    filled = [c for c in cells if c.strip().lower() not in ("", "nan")]
    return bool(filled) and all(map(_is_number, filled))


def _is_index(cells: list[str]) -> bool:
    """Evenly spaced numbers (0, 1, 2, ... or a time in steps of 60): a step counter, not a series."""
    try:
        steps = np.diff([float(c) for c in cells])
    except ValueError:
        return False
    return len(steps) > 0 and steps[0] != 0 and bool(np.all(steps == steps[0]))


def _only_numeric(table, path: str | Path, input_column: str) -> str:
    numeric = [c for c in table.columns if c != input_column and _mostly_numbers(table[c].tolist())
               and not _is_index(table[c].tolist())]
    if len(numeric) != 1:
        found = f"numeric columns {numeric}" if numeric else "no numeric column"
        raise ValueError(f"{path} has {found} (columns: {list(table.columns)}); name the one to predict with "
                         "task.column")
    return numeric[0]


def _numbers(table, name: str, path: str | Path, header: bool) -> np.ndarray:
    """The column as float64; a missing column, an empty cell or a non-number is an error naming the line."""
    if name not in table.columns:
        near = difflib.get_close_matches(name, [str(c) for c in table.columns], n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ValueError(f"{path} has no column {name!r}; {hint}its columns are {list(table.columns)}")
    cells = table[name].tolist()
    for i, cell in enumerate(cells):
        empty = cell.strip().lower() in ("", "nan")
        if empty or not _is_number(cell):
            what = "an empty cell" if empty else f"{cell!r}, not a number,"
            raise ValueError(f"column {name!r} of {path} has {what} at line {i + 1 + header}; fill in or drop "
                             "the missing values (a series needs one number per step)")
    values = np.asarray([float(c) for c in cells], dtype=np.float64)
    if not np.isfinite(values).all():
        line = int(np.flatnonzero(~np.isfinite(values))[0]) + 1 + header
        raise ValueError(f"column {name!r} of {path} has an infinite value at line {line}")
    return values
