"""Forecast combinations: median and mean by hand, baselines see only the history, the task option."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rnnkit.config import ModelConfig
from rnnkit.forecast import BASELINES, Forecast
from rnnkit.forecast.combine import combine, with_baselines
from rnnkit.forecast.synthetic import synthetic_panel
from rnnkit.tasks.forecasting.backtest import predict
from rnnkit.tasks.forecasting.task import Forecasting


def test_median_and_mean_by_hand():
    a = Forecast(np.array([1.0, 10.0]), np.array([0.0, 8.0]), np.array([2.0, 12.0]))
    b = Forecast(np.array([3.0, 40.0]), np.array([1.0, 30.0]), np.array([5.0, 50.0]))
    c = Forecast(np.array([2.0, 4.0]), np.array([1.5, 3.0]), np.array([2.5, 5.0]))
    med = combine([a, b, c])
    np.testing.assert_array_equal(med.point, [2.0, 10.0])      # one member far off on step 2 is ignored
    np.testing.assert_array_equal(med.lower, [1.0, 8.0])
    np.testing.assert_array_equal(med.upper, [2.5, 12.0])
    mean = combine([a, b, c], how="mean")
    np.testing.assert_allclose(mean.point, [2.0, 18.0])
    np.testing.assert_allclose(mean.lower, [2.5 / 3, 41 / 3])
    pointless = combine([a, Forecast(np.array([5.0, 6.0]))], how="mean")  # a member without an interval
    np.testing.assert_allclose(pointless.point, [3.0, 8.0])
    assert pointless.lower is None and pointless.upper is None


def test_bad_combinations_are_errors():
    a = Forecast(np.zeros(3))
    with pytest.raises(ValueError, match="share one horizon, got lengths \\[2, 3\\]"):
        combine([a, Forecast(np.zeros(2))])
    with pytest.raises(ValueError, match="'mode' is not known; choose one of \\['median', 'mean'\\]"):
        combine([a], how="mode")
    with pytest.raises(ValueError, match="at least one"):
        combine([])
    with pytest.raises(ValueError, match="baselines \\['arima'\\] are not known"):
        with_baselines([a], [np.ones(10)], [10], ["arima"], horizon=3, season=1, level=0.8)
    with pytest.raises(ValueError, match="task.combine names unknown baselines \\['thetaa'\\]"):
        Forecasting(combine=("thetaa",))
    with pytest.raises(ValueError, match="task.combine_how = 'max' is not known"):
        Forecasting(combine=("theta",), combine_how="max")


def test_baselines_see_only_the_history_before_each_origin():
    rng = np.random.default_rng(0)
    values = [rng.random(30) + 1, rng.random(25) + 1]
    starts = [24, 20]
    model = [Forecast(np.full(4, 100.0)), Forecast(np.full(4, -100.0))]
    first = with_baselines(model, values, starts, ["naive", "drift"], horizon=4, season=1, level=0.8)
    poisoned = [v.copy() for v in values]
    for v, o in zip(poisoned, starts):
        v[o:] = 1e9
    second = with_baselines(model, poisoned, starts, ["naive", "drift"], horizon=4, season=1, level=0.8)
    for f, g, m, v, o in zip(first, second, model, values, starts):
        np.testing.assert_array_equal(f.point, g.point)
        naive, drift = BASELINES["naive"](v[:o], 4), BASELINES["drift"](v[:o], 4)
        np.testing.assert_allclose(f.point, np.median([m.point, naive.point, drift.point], axis=0))
        assert f.lower is None                                  # the model's forecast had no interval


def test_task_combine_makes_predict_return_the_combination(tmp_path):
    synthetic_panel(series=3, length=60, seed=1).to_csv(tmp_path / "p.csv", index=False)
    task = Forecasting(data=str(tmp_path / "p.csv"), input_size=12, horizon=6, forecaster="esrnn", output="quantile")
    data = task.load()
    net = task.build_model(ModelConfig(hidden_size=4), task.describe(data))
    panel = task.panel()
    alone = predict(net, task, panel)
    both = predict(net, dataclasses.replace(task, combine=("theta", "seasonal_naive")), panel)
    season = task.period(panel)
    for f, g, v in zip(alone, both, panel.values):
        theta, snaive = BASELINES["theta"](v, 6, season, 0.8), BASELINES["seasonal_naive"](v, 6, season, 0.8)
        np.testing.assert_allclose(g.point, np.median([f.point, theta.point, snaive.point], axis=0))
        np.testing.assert_allclose(g.upper, np.median([f.upper, theta.upper, snaive.upper], axis=0))
        assert not np.allclose(g.point, f.point)


def test_a_baseline_that_cannot_forecast_a_series_is_an_error_naming_it():
    from rnnkit.data.series import SeriesError

    values = [np.arange(1.0, 31.0), np.arange(1.0, 5.0)]                   # ETS refuses 4 points
    model = [Forecast(np.ones(3)), Forecast(np.ones(3))]
    with pytest.raises(SeriesError, match=r"series 'short' \(4 points of history\): the 'ets' baseline cannot "
                                          r"forecast it .*leave 'ets' out"):
        with_baselines(model, values, [30, 4], ["ets"], horizon=3, season=1, level=0.8, ids=["long", "short"])
