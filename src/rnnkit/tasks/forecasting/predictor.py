"""A forecasting run's predictor: a history table in, the next `task.horizon` steps of each series out.

    saved = rnnkit.load("runs/forecast_lstm")
    table = saved.predict("history.csv")           # or a DataFrame: series_id, timestamp, value[, covariates]
    table = saved.predict(frame, future="plan.csv")   # known-future covariates over the horizon

The history's columns are those the run was trained with (task.id_column, time_column,
value_column, covariates); text covariates are encoded with the training's categories, and a
category never seen in training is an error. The history is read with the run's frequency and
checked like training data; everything else a forecast needs comes from the run's meta.json
(`Forecasting.describe`): the covariate columns the model reads, and for ES-RNN the ids of the
series it has smoothing parameters for. Scaling statistics are those of the history given, as in
training (each origin's own past). Series too short for the network follow task.short_series.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from ...data.series import Panel, SeriesError, load_series
from ..base import Meta
from .backtest import predict
from .select import groups_of
from .short import fallback, too_short_to_predict

if TYPE_CHECKING:
    from .task import Forecasting


class ForecastPredictor:
    """Forecasts from the end of each series of a history table, in the data's units, with the
    run's central `level` interval (and its baseline combination, `task.combine`)."""

    def __init__(self, task: Forecasting, model: nn.Module, meta: Meta) -> None:
        self.task, self.model, self.meta = task, model, meta

    def predict(self, inputs: Any, *, future: Any = None) -> Any:
        """inputs: a DataFrame in long format (series_id, timestamp, value[, covariates], or the
        columns the task names; time and value alone for one series) or a CSV/Parquet path -> a
        DataFrame of series_id, timestamp, forecast, lower_P, upper_P (P = task.level in percent),
        `task.horizon` rows per series after its last timestamp (and forecast_by, under
        task.short_series = "baseline"). `future`: the known-future covariates over the horizon (a
        table of the id and time columns and task.future_covariates). Each series is forecast by
        the method the run chose on validation for its group (meta.json "selection", select.py)."""
        return self.table(self.panel(inputs), future=future, source=inputs)

    def panel(self, inputs: Any) -> Panel:
        """The history as a checked Panel with the run's frequency, its column names and categories,
        and its covariate columns in the order the model reads them (other columns are ignored)."""
        task = self.task
        columns = [] if task.forecaster == "esrnn" else self.meta.get("covariate_columns", task.columns())
        panel = load_series(inputs, freq=self.meta["freq"], missing=task.missing, id_col=task.id_column,
                            time_col=task.time_column, value_col=task.value_column, covariates=columns,
                            categories=self.meta.get("categories", {}))
        if task.forecaster == "esrnn":                  # reads the values alone
            return panel
        trained = list(self.meta["covariates"])
        if sorted(panel.covariate_names) != sorted(trained):
            raise SeriesError(f"this run reads the covariate columns {trained}, but the table has "
                              f"{list(panel.covariate_names)}; give the history with exactly those columns")
        order = [panel.covariate_names.index(name) for name in trained]
        return dataclasses.replace(panel, covariates=[c[:, order] for c in panel.covariates],
                                   covariate_names=tuple(trained))

    def table(self, panel: Panel, *, future: Any = None, source: Any = None) -> Any:
        """`predict` on a checked panel (see `panel`; `source`: the table it was read from, whose
        task.select_by column names each series' group). Series shorter than input_size follow
        task.short_series; under "baseline" a column `forecast_by` says which forecast each row."""
        import pandas as pd

        task = self.task
        short = too_short_to_predict(task, panel, [len(v) for v in panel.values])
        if task.short_series == "drop":
            panel, short = panel.subset([i for i, n in enumerate(panel.ids) if n not in short]), []
        network = panel.subset([i for i, n in enumerate(panel.ids) if n not in short])
        ids = self.meta["series_ids"] if task.forecaster == "esrnn" else None
        groups = groups_of(task, panel, source) if task.select_by and source is not None else None
        position = {name: i for i, name in enumerate(panel.ids)}
        mine = predict(self.model, task, network, future=future, series_ids=ids, selection=self.meta.get("selection"),
                       groups=None if groups is None else [groups[position[n]] for n in network.ids]) \
            if len(network) else []
        rest, methods = fallback(task, panel, short, selection=self.meta.get("selection"), groups=groups)
        by_name, used = dict(zip([*network.ids, *short], [*mine, *rest])), dict(zip(short, methods))
        forecasts = [by_name[name] for name in panel.ids]
        H, pct = task.horizon, round(task.level * 100)
        times = [panel.future_times(i, H) for i in range(len(panel))]
        frame = pd.DataFrame({
            "series_id": np.repeat(np.asarray(panel.ids, dtype=object), H),
            "timestamp": np.concatenate([np.asarray(t) for t in times]),
            "forecast": np.concatenate([f.point for f in forecasts]),
            f"lower_{pct}": np.concatenate([f.lower for f in forecasts]),
            f"upper_{pct}": np.concatenate([f.upper for f in forecasts])})
        if task.short_series == "baseline":
            by = [used.get(name, "network") for name in panel.ids]
            frame["forecast_by"] = np.repeat(np.asarray(by, dtype=object), H)
        return frame
