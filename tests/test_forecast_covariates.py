"""Past-only and known-future covariates: what the model sees over the horizon, no leaks, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.config import ModelConfig
from rnnkit.data.future import extend
from rnnkit.data.series import SeriesError, calendar
from rnnkit.forecast.synthetic import synthetic_panel
from rnnkit.runs.configs import load_config
from rnnkit.tasks.forecasting.backtest import predict
from rnnkit.tasks.forecasting.task import Forecasting
from rnnkit.tasks.forecasting.windows import known_size


def covariate_table(series: int = 3, length: int = 60) -> pd.DataFrame:
    table = synthetic_panel(series=series, length=length, seed=4)
    rng = np.random.default_rng(0)
    return table.assign(promo=rng.integers(0, 2, len(table)).astype(float), temp=rng.normal(size=len(table)))


def task_on(tmp_path, table: pd.DataFrame, **settings) -> Forecasting:
    table.to_csv(tmp_path / "c.csv", index=False)
    return Forecasting(data=str(tmp_path / "c.csv"), input_size=12, horizon=6, future_covariates=("promo",),
                       **settings)


def test_known_future_features_are_the_horizon_rows(tmp_path):
    table = covariate_table()
    task = task_on(tmp_path, table, calendar=True, scale="none")
    panel = task.panel()
    data = task.load()
    assert known_size(task, panel) == 3                               # sin, cos of the year + promo
    assert data.train.inputs.shape[-1] == 1 + 2 + 2 and data.train.future.shape[1:] == (6, 3)
    # the first training window of the first series: its horizon is rows 12..17
    times = panel.times[0]
    torch.testing.assert_close(data.train.future[0, :, :2], torch.tensor(calendar(times, "MS")[12:18],
                                                                         dtype=torch.float32))
    promo = panel.covariates[0][:, 0]
    seen = promo[:len(promo) - 12]
    torch.testing.assert_close(data.train.future[0, :, 2],
                               torch.tensor((promo[12:18] - seen.mean()) / seen.std(), dtype=torch.float32))
    assert load_config(None, ["--task.name=forecasting", "--task.future_covariates=['promo']"]).task.settings[
        "future_covariates"] == ("promo",)


def test_training_windows_never_see_the_held_out_part(tmp_path):
    table = covariate_table()
    task = task_on(tmp_path, table)
    data = task.load()
    last = table.groupby("series_id").cumcount(ascending=False) < 12          # valid + test
    poisoned = table.copy()
    poisoned.loc[last, ["value", "promo", "temp"]] = 1e9
    again = task_on(tmp_path, poisoned).load()
    for name in ("inputs", "targets", "future"):
        torch.testing.assert_close(getattr(again.train, name), getattr(data.train, name))


def test_forecast_reads_past_covariates_before_the_origin_and_future_ones_over_the_horizon(tmp_path):
    task = task_on(tmp_path, covariate_table())
    panel = task.panel()
    torch.manual_seed(0)
    model = task.build_model(ModelConfig(hidden_size=8), task.describe(task.load()))
    starts = [len(v) - 10 for v in panel.values]
    first = predict(model, task, panel, starts)
    for v, c, o in zip(panel.values, panel.covariates, starts):
        v[o:] = 1e9                                                  # future values
        c[o:, 1] = 1e9                                               # past-only temp after the origin
        c[o + 6:, 0] = 1e9                                           # promo after the horizon
    second = predict(model, task, panel, starts)
    for a, b in zip(first, second):
        np.testing.assert_allclose(a.point, b.point, rtol=1e-6)
    for c, o in zip(panel.covariates, starts):
        c[o:o + 6, 0] += 5.0                                         # promo over the horizon is used
    third = predict(model, task, panel, starts)
    assert all(np.abs(a.point - c.point).max() > 1e-6 for a, c in zip(first, third))


def test_predict_past_the_end_reads_the_future_table(tmp_path):
    table = covariate_table()
    task = task_on(tmp_path, table)
    panel = task.panel()
    model = task.build_model(ModelConfig(hidden_size=8), task.describe(task.load()))
    ahead = pd.concat([pd.DataFrame({"series_id": i, "timestamp": panel.future_times(k, 6), "promo": 1.0})
                       for k, i in enumerate(panel.ids)], ignore_index=True)
    forecasts = predict(model, task, panel, future=ahead)
    assert len(forecasts) == 3 and all(np.isfinite(f.point).all() and len(f.point) == 6 for f in forecasts)
    with pytest.raises(SeriesError, match=r"need their values over the 6-step horizon"):
        predict(model, task, panel)
    gap = ahead.drop(index=9)                                        # s1's step 4
    with pytest.raises(SeriesError, match=r"series 's1': the future covariates table has no row for timestamp "
                                          r".* \(forecast step 4 of 6\)"):
        predict(model, task, panel, future=gap)
    empty = ahead.copy()
    empty.loc[8, "promo"] = np.nan
    with pytest.raises(SeriesError, match=r"series 's1': covariate 'promo' is missing .* at row 8 of the future "
                                          r"covariates table .*forecast step 3 of 6"):
        predict(model, task, panel, future=empty)


def test_unknown_future_covariate_is_named(tmp_path):
    with pytest.raises(SeriesError, match=r"future_covariates names 'price'.*\['promo', 'temp'\]"):
        Forecasting(data=_written(tmp_path), future_covariates=("price",)).panel()


def test_extend_continues_times_and_leaves_past_covariates_unknown(tmp_path):
    task = Forecasting(data=_written(tmp_path))
    panel = task.panel()
    longer = extend(panel, 4)
    assert len(longer.times[0]) == len(panel.times[0]) + 4 and longer.times[0][-1] == panel.future_times(0, 4)[-1]
    assert np.isnan(longer.values[0][-4:]).all() and np.isnan(longer.covariates[0][-4:]).all()


def _written(tmp_path) -> str:
    covariate_table().to_csv(tmp_path / "w.csv", index=False)
    return str(tmp_path / "w.csv")
