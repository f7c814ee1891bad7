"""ES-RNN: the smoothing recursion by hand, re-seasonalising, no look-ahead, the task end to end."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from rnnkit import LSTMCell, Recurrent, Stacked
from rnnkit.config import ModelConfig
from rnnkit.data.batch import Batch
from rnnkit.data.series import SeriesError
from rnnkit.forecast.synthetic import synthetic_panel
from rnnkit.models.esrnn import ESRNN
from rnnkit.tasks.forecasting.backtest import backtest, predict
from rnnkit.tasks.forecasting.task import Forecasting


def model(season: int = 2, horizon: int = 3, input_size: int = 2) -> ESRNN:
    rnn = Stacked([Recurrent(LSTMCell(input_size, 4))])
    return ESRNN(rnn, 2, input_size, horizon, season=season, output="gaussian").double()


def test_smoothing_recursion_by_hand():
    es = model()
    with torch.no_grad():                         # series 1: α = γ = 0.5, s_0 = 0.8, s_1 = 1.25
        es.init_season[1] = torch.tensor([math.log(0.8), math.log(1.25)])
    y = torch.tensor([[10.0, 20.0, 15.0, 30.0]], dtype=torch.float64)
    level, season = es.smooth(y, torch.tensor([1]))
    l0 = 10 / 0.8                                                   # 12.5
    s2 = 0.5 * 10 / l0 + 0.5 * 0.8                                  # 0.8
    l1 = 0.5 * 20 / 1.25 + 0.5 * l0                                 # 14.25
    s3 = 0.5 * 20 / l1 + 0.5 * 1.25
    l2 = 0.5 * 15 / s2 + 0.5 * l1                                   # 16.5
    s4 = 0.5 * 15 / l2 + 0.5 * s2
    l3 = 0.5 * 30 / s3 + 0.5 * l2
    s5 = 0.5 * 30 / l3 + 0.5 * s3
    torch.testing.assert_close(level[0], torch.tensor([l0, l1, l2, l3], dtype=torch.float64))
    torch.testing.assert_close(season[0], torch.tensor([0.8, 1.25, s2, s3, s4, s5], dtype=torch.float64))
    assert l1 == 14.25 and l2 == 16.5
    # inputs and the re-seasonalising base at origin t = 3 (input_size 2, horizon 3 > season 2)
    params, log_base = es(y, torch.tensor([1]))
    assert params.shape == (1, 3, 3, 2)
    torch.testing.assert_close(log_base[0, -1].exp(), torch.tensor([l3 * s4, l3 * s5, l3 * s4], dtype=torch.float64))


def test_smoothing_coefficients_and_seasons_are_learned_per_series():
    es = model()
    y = torch.rand(2, 9, dtype=torch.float64) + 1
    params, log_base = es(y, torch.tensor([0, 1]))
    (params.sum() + log_base.sum()).backward()
    for p in (es.alpha, es.gamma, es.init_season):
        assert p.grad is not None and (p.grad != 0).all()
    yearly = model(season=1)
    level, season = yearly.smooth(y, torch.tensor([0, 1]))
    assert (season == 1).all() and season.shape == (2, 10)


def test_no_origin_reads_later_values():
    es = model(season=3, horizon=4, input_size=3)
    y = torch.rand(1, 12, dtype=torch.float64) + 1
    params, log_base = es(y, torch.tensor([0]))
    poisoned = y.clone()
    poisoned[:, 8:] = 1e6
    params2, log_base2 = es(poisoned, torch.tensor([0]))
    n = 8 - 3                                                  # origins t <= 7 see only y_0..y_7
    torch.testing.assert_close(params2[:, :n + 1], params[:, :n + 1])
    torch.testing.assert_close(log_base2[:, :n + 1], log_base[:, :n + 1])


def esrnn_task(tmp_path, **settings) -> Forecasting:
    synthetic_panel(series=4, length=60, seed=1).to_csv(tmp_path / "p.csv", index=False)
    return Forecasting(data=str(tmp_path / "p.csv"), input_size=12, horizon=6, forecaster="esrnn",
                       output="quantile", **settings)


def test_task_trains_and_forecasts_in_data_units(tmp_path):
    task = esrnn_task(tmp_path)
    data = task.load()
    assert data.train.inputs.shape == (4, 60 - 12) and data.valid.targets.shape == (4, 6)
    torch.manual_seed(0)
    net = task.build_model(ModelConfig(hidden_size=8), task.describe(data))
    assert net.season == 12
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss, _ = task.loss(net, data.train, None)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    metrics = task.evaluate(net, [data.valid])
    assert set(metrics) == {"mae", "rmse", "coverage", "smape"} and metrics["smape"] < 50
    panel = task.panel()
    first = predict(net, task, panel)
    for v in panel.values:
        v *= 10.0                                              # multiplicative: forecasts scale with the data
    second = predict(net, task, panel)
    for a, b in zip(first, second):
        np.testing.assert_allclose(b.point, 10 * a.point, rtol=1e-4)
        assert (b.lower <= b.point).all() and (b.point <= b.upper).all()
    rows = backtest(panel, task, folds=2, step=3, model=net, baselines=("naive",))
    assert {r["method"] for r in rows} == {"rnnkit", "naive"}


def test_zeros_train_and_forecast_through_a_shifted_log(tmp_path):
    """A series with zeros (intermittent demand) used to stop the run ("needs positive values");
    now it is shifted by esrnn.offset, trains to finite losses and forecasts finite values."""
    from rnnkit.tasks.forecasting.esrnn import offset

    table = synthetic_panel(series=3, length=60, seed=2)
    zeros = table.series_id == "s1"
    table.loc[zeros, "value"] = np.where(np.arange(zeros.sum()) % 3 == 0, 0.0, table.loc[zeros, "value"])
    table.to_csv(tmp_path / "z.csv", index=False)
    task = Forecasting(data=str(tmp_path / "z.csv"), input_size=12, horizon=6, forecaster="esrnn", output="quantile")
    data = task.load()
    torch.manual_seed(0)
    net = task.build_model(ModelConfig(hidden_size=8), task.describe(data))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(5):
        optimizer.zero_grad()
        loss, _ = task.loss(net, data.train, None)
        assert torch.isfinite(loss)
        loss.backward()
        optimizer.step()
    metrics = task.evaluate(net, [data.valid])
    assert all(np.isfinite(v) for v in metrics.values())
    forecasts = predict(net, task, task.panel())
    assert all(np.isfinite(f.point).all() and (f.lower <= f.upper).all() for f in forecasts)
    assert offset(np.array([0.0, 2.0, 4.0])) == 2.0 and offset(np.array([1.0, 3.0])) == 0.0
    assert offset(np.zeros(4)) == 1.0
    baselines = task.baselines(data, ["valid"])["valid"]                 # scored relative to the shifted last value
    assert all(np.isfinite(m["mae"]) for m in baselines.values())


def test_a_series_unknown_to_the_esrnn_is_an_error(tmp_path):
    with pytest.raises(SeriesError, match="trained on 4 series"):
        good = esrnn_task(tmp_path)
        panel = good.panel()
        predict(good.build_model(ModelConfig(hidden_size=4), good.describe(good.load())), good,
                type(panel)(panel.ids[:2], panel.values[:2], panel.times[:2], panel.freq, panel.covariates[:2]))


def test_level_wiggliness_penalty_by_hand(tmp_path):
    from rnnkit.tasks.forecasting.esrnn import wiggliness

    level = torch.exp(torch.tensor([[0.0, 1.0, 3.0, 4.0, 9.0], [0.0, 2.0, 4.0, 6.0, 6.0]]))
    # log steps 1, 2, 1 -> changes 1, -1; the second series' valid part (4 steps) is a straight line
    assert wiggliness(level, torch.tensor([4, 4])).item() == pytest.approx((1 + 1 + 0 + 0) / 4)
    task = esrnn_task(tmp_path)
    data = task.load()
    net = task.build_model(ModelConfig(hidden_size=4), task.describe(data))
    plain, _ = task.loss(net, data.train, None)
    penalised, _ = esrnn_task(tmp_path, level_penalty=10.0).loss(net, data.train, None)
    assert penalised.item() > plain.item()
    with pytest.raises(ValueError, match="level_penalty"):
        Forecasting(level_penalty=1.0)


def test_series_too_short_for_an_origin_are_forecast_not_dropped(tmp_path):
    table = synthetic_panel(series=3, length=60, seed=2)
    short = table["series_id"] == "s2"
    table = table[~short | (table.groupby("series_id").cumcount() < 14)]    # s2: 14 points < 12 + 6
    table.to_csv(tmp_path / "p.csv", index=False)
    task = Forecasting(data=str(tmp_path / "p.csv"), input_size=12, horizon=6, forecaster="esrnn", holdout=0)
    with pytest.warns(UserWarning, match="1 series are too short for a training origin.*only forecast: \\['s2'\\]"):
        data = task.load()
    assert data.train.series.tolist() == [0, 1, 2] and data.train.lengths[2].item() == 14
    assert data.valid.series.tolist() == [0, 1]             # s2 has no full input window before its last 6
    net = task.build_model(ModelConfig(hidden_size=4), task.describe(data))
    only_short = data.train.select(torch.tensor([2]))
    loss, _ = task.loss(net, only_short, None)
    assert loss.item() == 0.0
    loss.backward()                                          # no origin: nothing to learn, but no NaN either
    loss, _ = task.loss(net, data.train, None)
    assert torch.isfinite(loss)
    forecasts = predict(net, task, task.panel())
    assert len(forecasts) == 3 and all(np.isfinite(f.point).all() and len(f.point) == 6 for f in forecasts)
    with pytest.raises(SeriesError, match=r"shorter than input_size \(12\) \+ 1 \* horizon \(6; task.holdout = 1\) = 18"
                                          r".*task.short_series"):
        Forecasting(data=str(tmp_path / "p.csv"), input_size=12, horizon=6, forecaster="esrnn", holdout=1).load()


def test_initial_seasons_by_classical_decomposition(tmp_path):
    from rnnkit.tasks.forecasting.esrnn import initial_season

    pattern = np.array([0.8, 1.0, 1.3, 0.9])                  # mean 1
    y = (10 + 0.1 * np.arange(40)) * np.tile(pattern, 10)
    np.testing.assert_allclose(np.exp(initial_season(y, 4)), pattern, atol=2e-3)   # 2 x 4 centred average
    odd = np.array([0.9, 1.2, 0.9])
    np.testing.assert_allclose(np.exp(initial_season(np.tile(odd, 6) * 5.0, 3)), odd, atol=1e-12)
    # one and a half seasons: the full season over its mean
    np.testing.assert_allclose(np.exp(initial_season(np.array([2.0, 4.0, 6.0, 4.0, 9.0, 9.0]), 4)),
                               [0.5, 1.0, 1.5, 1.0])
    assert (initial_season(np.ones(3), 4) == 0).all()         # under one season: flat
    task = esrnn_task(tmp_path, season_init="decompose")
    data = task.load()
    net = task.build_model(ModelConfig(hidden_size=4), task.describe(data))
    first = data.train.inputs[0, :data.train.lengths[0]].double().numpy()
    torch.testing.assert_close(net.init_season[0].double(), torch.as_tensor(initial_season(first, 12)),
                               check_dtype=False)
    flat = esrnn_task(tmp_path)
    assert (flat.build_model(ModelConfig(hidden_size=4), flat.describe(data)).init_season == 0).all()
    with pytest.raises(ValueError, match="task.season_init = 'x' is not known"):
        Forecasting(season_init="x")


def test_series_weighting_is_the_mean_of_each_series_mean_loss(tmp_path):
    table = synthetic_panel(series=3, length=60, seed=3)
    keep = table.groupby("series_id").cumcount() < table["series_id"].map({"s0": 60, "s1": 25, "s2": 40})
    table[keep].to_csv(tmp_path / "p.csv", index=False)             # 60, 25 and 40 points: unequal origins
    by_origin = Forecasting(data=str(tmp_path / "p.csv"), input_size=12, horizon=6, forecaster="esrnn",
                            output="quantile", holdout=0)
    by_series = dataclasses.replace(by_origin, weighting="series")
    data = by_origin.load()
    torch.manual_seed(0)
    net = by_origin.build_model(ModelConfig(hidden_size=4), by_origin.describe(data)).double()
    batch = Batch(data.train.inputs.double(), data.train.targets.double(), data.train.lengths, series=data.train.series)
    each = [by_origin.loss(net, batch.select(torch.tensor([i])), None)[0] for i in range(3)]
    weighted, _ = by_series.loss(net, batch, None)
    torch.testing.assert_close(weighted, torch.stack(each).mean())
    plain, _ = by_origin.loss(net, batch, None)
    origins = (batch.lengths - 12 - 6 + 1).double()                  # 43, 8 and 23 origins
    torch.testing.assert_close(plain, (torch.stack(each) * origins).sum() / origins.sum())
    with pytest.raises(ValueError, match="task.weighting = 'x' is not known"):
        Forecasting(weighting="x")
