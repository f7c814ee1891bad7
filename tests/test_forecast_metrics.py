"""Forecast metrics against hand calculations; baselines in one API."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.forecast import BASELINES, coverage, mae, mase, rmse, score, smape

Y, F = np.array([10.0, 20.0, 30.0]), np.array([12.0, 18.0, 33.0])


def test_point_metrics_by_hand():
    assert mae(Y, F) == pytest.approx((2 + 2 + 3) / 3)
    assert rmse(Y, F) == pytest.approx(math.sqrt((4 + 4 + 9) / 3))
    assert smape(Y, F) == pytest.approx(200 / 3 * (2 / 22 + 2 / 38 + 3 / 63))
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0                       # 0/0 counts as 0
    # in-sample 1, 3, 2, 6: naive errors 2, 1, 4 (mean 7/3); seasonal (m=2) errors 1, 3 (mean 2)
    insample = np.array([1.0, 3.0, 2.0, 6.0])
    assert mase(Y, F, insample) == pytest.approx((7 / 3) / (7 / 3))
    assert mase(Y, F, insample, season=2) == pytest.approx((7 / 3) / 2)
    with pytest.raises(ValueError, match="needs more than 4"):
        mase(Y, F, insample, season=4)


def test_coverage_and_score():
    assert coverage(Y, [9, 21, 29], [11, 22, 30]) == pytest.approx(2 / 3)   # bounds are inside
    out = score(Y, F, np.ones(5), lower=Y - 1, upper=Y + 1)
    assert math.isnan(out["mase"]) and out["coverage"] == 1.0 and set(out) == {"mae", "rmse", "smape", "mase",
                                                                                   "coverage"}


def test_simple_baselines_by_hand():
    y = np.array([1.0, 2.0, 4.0, 3.0, 5.0, 7.0])
    np.testing.assert_array_equal(BASELINES["naive"](y, 3).point, [7, 7, 7])
    np.testing.assert_array_equal(BASELINES["seasonal_naive"](y, 5, season=3).point, [3, 5, 7, 3, 5])
    np.testing.assert_allclose(BASELINES["drift"](y, 2).point, [7 + 6 / 5, 7 + 12 / 5])
    naive = BASELINES["naive"](y, 4, level=0.95)
    sigma = math.sqrt(np.mean(np.diff(y) ** 2))
    np.testing.assert_allclose(naive.upper - naive.point, 1.959964 * sigma * np.sqrt([1, 2, 3, 4]), rtol=1e-6)
    season = BASELINES["seasonal_naive"](y, 4, season=3)
    width = season.upper - season.point
    assert width[0] == pytest.approx(width[2]) and width[3] == pytest.approx(width[0] * math.sqrt(2))


@pytest.mark.parametrize("name", ["ets", "theta"])
def test_library_baselines_same_api(name):
    pytest.importorskip("statsforecast")
    t = np.arange(48)
    y = 50 + 0.5 * t + 5 * np.sin(2 * np.pi * t / 12)
    out = BASELINES[name](y, 12, season=12, level=0.8)
    assert out.point.shape == out.lower.shape == out.upper.shape == (12,)
    assert np.all(out.lower <= out.point + 1e-9) and np.all(out.point <= out.upper + 1e-9)
    truth = 50 + 0.5 * (t[-1] + 1 + np.arange(12)) + 5 * np.sin(2 * np.pi * (48 + np.arange(12)) / 12)
    assert smape(truth, out.point) < 10                                 # sane, not a benchmark
