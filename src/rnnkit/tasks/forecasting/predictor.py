"""A forecasting run's predictor: a history table in, the next `task.horizon` steps of each series out.

    saved = rnnkit.load("runs/forecast_lstm")
    table = saved.predict("history.csv")           # or a DataFrame: series_id, timestamp, value[, covariates]
    table = saved.predict(frame, future="plan.csv")   # known-future covariates over the horizon

The history is read with the run's frequency and checked like training data; everything else a
forecast needs comes from the run's meta.json (`Forecasting.describe`): the covariate columns
the model reads, and for ES-RNN the ids of the series it has smoothing parameters for. Scaling
statistics are those of the history given, as in training (each origin's own past).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from ...data.series import Panel, SeriesError, load_series
from ..base import Meta
from .backtest import predict

if TYPE_CHECKING:
    from .task import Forecasting


class ForecastPredictor:
    """Forecasts from the end of each series of a history table, in the data's units, with the
    run's central `level` interval (and its baseline combination, `task.combine`)."""

    def __init__(self, task: Forecasting, model: nn.Module, meta: Meta) -> None:
        self.task, self.model, self.meta = task, model, meta

    def predict(self, inputs: Any, *, future: Any = None) -> Any:
        """inputs: a DataFrame in long format (series_id, timestamp, value[, covariates]; or
        timestamp, value for one series) or a CSV/Parquet path -> a DataFrame of series_id,
        timestamp, forecast, lower_P, upper_P (P = task.level in percent), `task.horizon` rows per
        series after its last timestamp. `future`: the known-future covariates over the horizon
        (a table of series_id, timestamp and task.future_covariates)."""
        return self.table(self.panel(inputs), future=future)

    def panel(self, inputs: Any) -> Panel:
        """The history as a checked Panel with the run's frequency and its covariate columns in
        the order the model reads them."""
        panel = load_series(inputs, freq=self.meta["freq"], missing=self.task.missing)
        if self.task.forecaster == "esrnn":                  # reads the values alone
            return panel
        trained = list(self.meta["covariates"])
        if sorted(panel.covariate_names) != sorted(trained):
            raise SeriesError(f"this run reads the covariate columns {trained}, but the table has "
                              f"{list(panel.covariate_names)}; give the history with exactly those columns")
        order = [panel.covariate_names.index(name) for name in trained]
        return Panel(panel.ids, panel.values, panel.times, panel.freq, [c[:, order] for c in panel.covariates],
                     tuple(trained))

    def table(self, panel: Panel, *, future: Any = None) -> Any:
        """`predict` on a checked panel (see `panel`)."""
        import pandas as pd

        ids = self.meta["series_ids"] if self.task.forecaster == "esrnn" else None
        forecasts = predict(self.model, self.task, panel, future=future, series_ids=ids)
        H, pct = self.task.horizon, round(self.task.level * 100)
        times = [panel.future_times(i, H) for i in range(len(panel))]
        return pd.DataFrame({
            "series_id": np.repeat(np.asarray(panel.ids, dtype=object), H),
            "timestamp": np.concatenate([np.asarray(t) for t in times]),
            "forecast": np.concatenate([f.point for f in forecasts]),
            f"lower_{pct}": np.concatenate([f.lower for f in forecasts]),
            f"upper_{pct}": np.concatenate([f.upper for f in forecasts])})
