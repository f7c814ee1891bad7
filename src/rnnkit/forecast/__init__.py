"""Forecasting: metrics, baselines, rolling-origin backtests and the `rnnkit forecast` command."""

from __future__ import annotations

from .baselines import BASELINES as BASELINES
from .baselines import Forecast as Forecast
from .metrics import coverage as coverage
from .metrics import mae as mae
from .metrics import mase as mase
from .metrics import rmse as rmse
from .metrics import score as score
from .metrics import smape as smape

__all__ = ["BASELINES", "Forecast", "coverage", "mae", "mase", "rmse", "score", "smape"]
