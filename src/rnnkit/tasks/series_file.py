"""Your own series for an echo state network (task chaotic_series with series = a CSV file).

Step t reads input u_t and is scored on target y_t. Without task.input_column the series predicts
itself one step ahead (u_t = row t, y_t = row t + 1); with it, u_t and y_t are the two columns of
row t (system identification, as NARMA10). Inputs and targets are standardised with the mean and
standard deviation of the training part (kept in meta.json, so predictions come back in the
file's units). The last `valid_fraction` and `test_fraction` of the steps are held out; the
validation and test splits also read the `washout` steps before them first, so their state is
warm and every one of their steps is scored (the training split discards its first `washout`).

Splits.ids names the file, its columns and digest, and each split's scored target rows as
[start, stop) (rows counted from 0 after the header, as pandas numbers them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.batch import Batch, Splits
from ..data.series_csv import read_series_csv


@dataclass(frozen=True)
class SeriesSplits(Splits):
    scale: dict | None = None       # a CSV series: {"input": [mean, std], "target": [mean, std]} of the training part


def load_csv(task: Any) -> SeriesSplits:
    """The splits of the CSV file `task.series` (a ChaoticSeries with from_file)."""
    values, driver, name = read_series_csv(task.series, task.column, task.input_column)
    u, y = (driver, values) if driver is not None else (values[:-1], values[1:])
    steps = len(y)
    valid, test = round(task.valid_fraction * steps), round(task.test_fraction * steps)
    train = steps - valid - test
    where = f"{task.series} ({len(values)} rows, {steps} steps)"
    if train <= task.washout + 1:
        raise ValueError(f"{where} leaves {train} training steps, not more than task.washout + 1 = "
                         f"{task.washout + 1}; lower task.washout or the valid/test fractions, or give more rows")
    closes_loop = task.one_step_ahead and task.horizon
    need = task.horizon + 1 if closes_loop else 2                 # closed-loop runs, or a standard deviation
    for part, size in (("valid", valid), ("test", test)):
        if size < need and (part == "valid" or size):         # test_fraction = 0: no test part, and that is fine
            why = " (task.horizon + 1: lower task.horizon, or 0 for no closed-loop metric)" if closes_loop else ""
            raise ValueError(f"{where} leaves {size} {part} steps, fewer than {need}{why}; raise "
                             f"task.{part}_fraction or give more rows")
    target = _stats(y[:train], name, task.series)     # a series that predicts itself: one scale for both
    scale = {"input": target if driver is None else _stats(u[:train], task.input_column, task.series),
             "target": target}
    standard = lambda a, key: torch.tensor((a - scale[key][0]) / scale[key][1], dtype=torch.float64)[None, :, None]
    u, y = standard(u, "input"), standard(y, "target")                       # (1, T, 1) each
    cuts = [0, train, train + valid, steps]
    part = lambda i: Batch(u[:, max(cuts[i] - (i > 0) * task.washout, 0):cuts[i + 1]],
                           y[:, max(cuts[i] - (i > 0) * task.washout, 0):cuts[i + 1]])
    row = 0 if driver is not None else 1                                     # the file row of step 0's target
    ids = {"file": Path(task.series).name, "sha256": hashlib.sha256(Path(task.series).read_bytes()).hexdigest()[:16],
           "column": name, "input_column": task.input_column or None, "washout": task.washout,
           "train": [row + task.washout, row + train], "valid": [row + train, row + train + valid],
           "test": [row + train + valid, row + steps]}
    return SeriesSplits(part(0), part(1), part(2) if test else None, ids=ids, scale=scale)


def _stats(values: np.ndarray, column: str, path: str) -> list[float]:
    mean, std = float(values.mean()), float(values.std())
    if not std > 0:
        raise ValueError(f"column {column!r} of {path} is constant ({mean:g}) over the training part: there is "
                         "nothing to predict")
    return [mean, std]
