"""Baseline forecasters with one signature: f(y, horizon, season, level) -> Forecast.

naive, seasonal naive and drift are the textbook methods with their normal prediction intervals
(Hyndman & Athanasopoulos, FPP3 5.5); "ets" (AutoETS) and "theta" (the standard Theta method of
Assimakopoulos & Nikolopoulos 2000, M3's winner) come from statsforecast, the `forecast` extra.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..data.series import SeriesError


@dataclass(frozen=True)
class Forecast:
    point: np.ndarray                       # (H,)
    lower: np.ndarray | None = None         # (H,) the central `level` interval
    upper: np.ndarray | None = None


def _interval(point: np.ndarray, sigma: np.ndarray, level: float) -> Forecast:
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    return Forecast(point, point - z * sigma, point + z * sigma)


def _sigma(residuals: np.ndarray) -> float:
    return float(np.sqrt(np.mean(residuals ** 2))) if len(residuals) else 0.0


def naive(y: np.ndarray, horizon: int, season: int = 1, level: float = 0.8) -> Forecast:
    """The last value, held flat."""
    h = np.arange(1, horizon + 1)
    return _interval(np.full(horizon, float(y[-1])), _sigma(np.diff(y)) * np.sqrt(h), level)


def seasonal_naive(y: np.ndarray, horizon: int, season: int = 1, level: float = 0.8) -> Forecast:
    """The value one season earlier; naive when the series is shorter than a season."""
    if season <= 1 or len(y) < season:
        return naive(y, horizon, 1, level)
    h = np.arange(horizon)
    point = np.asarray(y[-season:], dtype=np.float64)[h % season]
    return _interval(point, _sigma(y[season:] - y[:-season]) * np.sqrt(h // season + 1), level)


def drift(y: np.ndarray, horizon: int, season: int = 1, level: float = 0.8) -> Forecast:
    """The line through the first and last values, extended."""
    n, h = len(y), np.arange(1, horizon + 1)
    slope = (y[-1] - y[0]) / (n - 1) if n > 1 else 0.0
    residuals = np.diff(y) - slope
    return _interval(y[-1] + slope * h, _sigma(residuals) * np.sqrt(h * (1 + h / max(n - 1, 1))), level)


def _statsforecast(name: str) -> Callable[..., Forecast]:
    def forecast(y: np.ndarray, horizon: int, season: int = 1, level: float = 0.8) -> Forecast:
        try:
            from statsforecast import models
        except ImportError:
            raise ValueError(f"the {name!r} baseline needs statsforecast: pip install 'rnnkit[forecast]'") from None
        model = models.AutoETS(season_length=season) if name == "ets" else models.Theta(season_length=season)
        pct = round(level * 100)
        out = model.forecast(y=np.asarray(y, dtype=np.float64), h=horizon, level=[pct])
        as64 = lambda key: np.asarray(out[key], dtype=np.float64)
        return Forecast(as64("mean"), as64(f"lo-{pct}"), as64(f"hi-{pct}"))
    forecast.__name__ = name
    forecast.__doc__ = f"statsforecast's {'AutoETS' if name == 'ets' else 'Theta'}."
    return forecast


BASELINES: dict[str, Callable[..., Forecast]] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "drift": drift,
    "ets": _statsforecast("ets"),
    "theta": _statsforecast("theta"),
}


_CACHE: dict[tuple, Forecast] = {}
_CACHE_SIZE = 50_000        # ETS and Theta forecasts of one history are asked for again and again: on
                            # validation (selection), by the run's baselines and backtests, in combinations


def baseline_forecast(name: str, y: np.ndarray, horizon: int, season: int, level: float, series_id: str) -> Forecast:
    """BASELINES[name] on one series (remembered: the methods are deterministic); a baseline that
    cannot forecast it (statsforecast refuses "tiny datasets") is an error naming the series, its
    length and the baseline."""
    y = np.asarray(y, dtype=np.float64)
    key = (name, y.tobytes(), horizon, season, level)
    if key in _CACHE:
        return _CACHE[key]
    try:
        out = BASELINES[name](y, horizon, season, level)
    except (NotImplementedError, ValueError, np.linalg.LinAlgError) as error:
        if "pip install" in str(error):
            raise
        raise SeriesError(f"series {series_id!r} ({len(y)} points of history): the {name!r} baseline cannot "
                          f"forecast it ({type(error).__name__}: {error}); give it a longer history or leave "
                          f"{name!r} out (task.combine, --baselines)") from None
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[key] = out
    return out

