"""Point and interval accuracy of forecasts, one series at a time (average over series yourself).

sMAPE follows the M3 competition (Makridakis & Hibon 2000): 200/H * sum |y - f| / (|y| + |f|),
in percent, with 0/0 counted as 0. MASE (Hyndman & Koehler 2006) divides the MAE by the in-sample
MAE of the seasonal naive forecast with period `season` (1: the naive forecast).
"""

from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray


def mae(y: ArrayLike, f: ArrayLike) -> float:
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(f))))


def rmse(y: ArrayLike, f: ArrayLike) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(f)) ** 2)))


def smape(y: ArrayLike, f: ArrayLike) -> float:
    y, f = np.asarray(y, dtype=np.float64), np.asarray(f, dtype=np.float64)
    top, bottom = np.abs(y - f), np.abs(y) + np.abs(f)
    ratio = np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0)
    return float(200.0 * ratio.mean())


def mase(y: ArrayLike, f: ArrayLike, insample: ArrayLike, season: int = 1) -> float:
    insample = np.asarray(insample, dtype=np.float64)
    if len(insample) <= season:
        raise ValueError(f"MASE with season {season} needs more than {season} in-sample points, got {len(insample)}")
    scale = np.mean(np.abs(insample[season:] - insample[:-season]))
    if scale == 0:
        raise ValueError("MASE is undefined: the in-sample seasonal naive errors are all zero")
    return mae(y, f) / float(scale)


def coverage(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """The fraction of points inside [lower, upper]."""
    y = np.asarray(y)
    return float(np.mean((np.asarray(lower) <= y) & (y <= np.asarray(upper))))


def score(y: ArrayLike, f: ArrayLike, insample: ArrayLike, season: int = 1, lower: ArrayLike | None = None,
          upper: ArrayLike | None = None) -> dict[str, float]:
    """All metrics for one series; MASE is NaN where it is undefined, coverage only with an interval."""
    out = {"mae": mae(y, f), "rmse": rmse(y, f), "smape": smape(y, f)}
    try:
        out["mase"] = mase(y, f, insample, season)
    except ValueError:
        out["mase"] = float("nan")
    if lower is not None and upper is not None:
        out["coverage"] = coverage(y, lower, upper)
    return out
