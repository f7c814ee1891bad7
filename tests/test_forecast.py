"""The forecasting task, model, predictions in data units and rolling-origin backtests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.config import ModelConfig
from rnnkit.data.series import SeriesError
from rnnkit.forecast.synthetic import synthetic_panel
from rnnkit.models.likelihoods import gaussian_nll, pinball
from rnnkit.runs.configs import load_config
from rnnkit.tasks.forecasting.backtest import backtest, origins, predict, summary
from rnnkit.tasks.forecasting.task import Forecasting, season_of
from rnnkit.train import fit


def small_task(tmp_path, **settings) -> Forecasting:
    synthetic_panel(series=4, length=60, seed=1).to_csv(tmp_path / "p.csv", index=False)
    return Forecasting(data=str(tmp_path / "p.csv"), input_size=12, horizon=6, **settings)


def test_splits_hold_out_the_last_two_horizons(tmp_path):
    task = small_task(tmp_path)
    panel = task.panel()
    data = task.load()
    assert data.valid.inputs.shape == (4, 12, 3) and data.test.targets.shape == (4, 6)
    # poison each series' last 2H values: the training split must not change
    table = pd.read_csv(tmp_path / "p.csv")
    last = table.groupby("series_id").cumcount(ascending=False) < 12
    table.loc[last, "value"] = 1e9
    table.to_csv(tmp_path / "q.csv", index=False)
    poisoned = Forecasting(data=str(tmp_path / "q.csv"), input_size=12, horizon=6).load()
    torch.testing.assert_close(poisoned.train.inputs, data.train.inputs)
    torch.testing.assert_close(poisoned.train.targets, data.train.targets)
    assert len(data.train) == sum(len(v) - 12 - 12 - 6 + 1 for v in panel.values)


def test_short_series_is_an_error_naming_it(tmp_path):
    table = synthetic_panel(series=2, length=60)
    table = table[(table.series_id == "s0") | (table.groupby("series_id").cumcount() < 20)]
    table.to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(SeriesError, match=r"'s1' \(20 points\)"):
        Forecasting(data=str(tmp_path / "short.csv"), input_size=12, horizon=6).load()


def test_losses_and_model_shapes(tmp_path):
    target = torch.tensor([[1.0, 2.0]])
    params = torch.stack([target, torch.ones(1, 2)], dim=-1)
    assert gaussian_nll(params, target).item() == pytest.approx(0.0)
    q = torch.tensor([[[0.0, 1.0, 3.0]]])                        # quantiles 0.1, 0.5, 0.9 at one step
    # target 2: errors 2, 1, -1 -> 0.1*2, 0.5*1, (0.9-1)*(-1) -> mean (0.2 + 0.5 + 0.1) / 3
    assert pinball(q, torch.tensor([[2.0]]), (0.1, 0.5, 0.9)).item() == pytest.approx(0.8 / 3)
    for output, cell in (("gaussian", "lstm"), ("quantile", "gru"), ("student_t", "mingru")):
        task = small_task(tmp_path, output=output)
        data = task.load()
        model = task.build_model(ModelConfig(cell=cell, hidden_size=8), task.describe(data))
        params = model(data.valid.inputs, data.valid.future)
        assert params.shape == (4, 6, 2 if output == "gaussian" else 3)
        lower, point, upper = task.interval(params)
        assert (lower <= point).all() and (point <= upper).all()
        loss, _ = task.loss(model, data.train, None)
        loss.backward()
        assert set(task.evaluate(model, [data.valid])) == {"mae", "rmse", "coverage"}


def test_origins_are_the_last_folds():
    assert origins([30, 20], 6, 3, 4) == [[16, 6], [20, 10], [24, 14]]
    with pytest.raises(ValueError):
        origins([30], 6, 0, 1)


def test_backtest_scores_exactly_the_points_after_each_origin(tmp_path):
    task = small_task(tmp_path)
    panel = task.panel()
    rows = backtest(panel, task, folds=2, step=3, baselines=("naive",))
    assert len(rows) == 2 * 4
    for row in rows:
        v = panel.values[panel.ids.index(row["series_id"])]
        o = row["origin"]
        assert o == len(v) - 6 - (1 - row["fold"]) * 3
        assert row["mae"] == pytest.approx(np.mean(np.abs(v[o:o + 6] - v[o - 1])))
    assert set(summary(rows)["naive"]) == {"mae", "rmse", "smape", "mase", "coverage"}
    with pytest.raises(SeriesError, match="too short"):
        backtest(panel, task, folds=30, step=6)


def test_predict_is_in_data_units_and_reads_only_the_history(tmp_path):
    task = small_task(tmp_path, scale="standard")      # an untrained model's ~0 is the series' mean
    panel = task.panel()
    torch.manual_seed(0)
    model = task.build_model(ModelConfig(hidden_size=8), task.describe(task.load()))
    starts = [len(v) - 6 for v in panel.values]
    first = predict(model, task, panel, starts)
    for v, o in zip(panel.values, starts):
        v[o:] = 1e9                                               # the future must not matter
    second = predict(model, task, panel, starts)
    for a, b, v, o in zip(first, second, panel.values, starts):
        np.testing.assert_allclose(a.point, b.point)
        assert abs(a.point.mean() - v[:o].mean()) < 5 * v[:o].std()   # back in the series' units
    rows = backtest(panel, task, model=model, baselines=())
    assert {r["method"] for r in rows} == {"rnnkit"} and all("coverage" in r for r in rows)


def test_season_of_frequency():
    assert [season_of(f) for f in ("MS", "ME", "QS-OCT", "D", "h", "YS", "int", "W-SUN")] == [12, 12, 4, 7, 24, 1,
                                                                                               1, 52]


def test_m3_reader_on_a_tiny_copy(tmp_path):
    import json

    from rnnkit.data.m3 import load_m3, to_frame

    item = lambda p, h, n: {"sn": ["x"], "period": [p], "h": [h], "n": [n], "type": ["MICRO"],
                            "x": list(range(1, n + 1)), "xx": [0.5] * h}
    (tmp_path / "m3.json").write_text(json.dumps({"N0002": item("YEARLY", 6, 14), "N1402": item("MONTHLY", 18, 50)}))
    series = load_m3(path=tmp_path / "m3.json")
    assert [(s.id, s.frequency, s.horizon, s.season, len(s.train)) for s in series] == [
        ("N0002", "yearly", 6, 1, 14), ("N1402", "monthly", 18, 12, 50)]
    assert [s.id for s in load_m3("monthly", path=tmp_path / "m3.json")] == ["N1402"]
    table = to_frame(series)
    assert len(table) == 14 + 6 + 50 + 18 and table.value.iloc[14] == 0.5
    with pytest.raises(ValueError, match="weekly"):
        load_m3("weekly", path=tmp_path / "m3.json")


@pytest.mark.parametrize("scale", ["standard", "mean", "window"])
def test_forecasts_follow_the_series_units(tmp_path, scale):
    """Scaling round-trips through the model: series x 10 -> forecasts and intervals x 10."""
    task = small_task(tmp_path, scale=scale)
    panel = task.panel()
    torch.manual_seed(0)
    model = task.build_model(ModelConfig(hidden_size=8), task.describe(task.load()))
    first = predict(model, task, panel)
    for v in panel.values:
        v *= 10.0
    second = predict(model, task, panel)
    for a, b in zip(first, second):
        np.testing.assert_allclose(b.point, 10 * a.point, rtol=1e-5)
        np.testing.assert_allclose(b.upper - b.lower, 10 * (a.upper - a.lower), rtol=1e-5)


def test_series_without_training_windows_are_named(tmp_path):
    table = synthetic_panel(series=2, length=60)
    table = table[(table.series_id == "s0") | (table.groupby("series_id").cumcount() < 28)]
    table.to_csv(tmp_path / "mixed.csv", index=False)
    task = Forecasting(data=str(tmp_path / "mixed.csv"), input_size=12, horizon=6)
    with pytest.warns(UserWarning, match=r"1 series are too short for a training window .* \['s1'\]"):
        data = task.load()
    assert len(data.valid) == len(data.test) == 2                        # still forecast and scored


def test_student_t_nll_and_interval_by_hand():
    from scipy.stats import t as student_t

    from rnnkit.models.likelihoods import interval, student_t_nll, to_params

    params = torch.tensor([[[1.0, 2.0, 5.0], [0.0, 0.5, 3.0]]], dtype=torch.float64)   # loc, scale, df
    target = torch.tensor([[2.0, -1.0]], dtype=torch.float64)
    expected = -np.mean([student_t.logpdf(2.0, 5.0, 1.0, 2.0), student_t.logpdf(-1.0, 3.0, 0.0, 0.5)])
    assert student_t_nll(params, target).item() == pytest.approx(expected)
    lower, point, upper = interval(params, "student_t", 0.8)
    np.testing.assert_allclose(upper[0].numpy(), [1.0 + 2.0 * student_t.ppf(0.9, 5.0), 0.5 * student_t.ppf(0.9, 3.0)])
    np.testing.assert_allclose((lower + upper).numpy(), 2 * point.numpy())
    raw = torch.tensor([[[0.3, -20.0, -20.0]]])
    assert (to_params(raw, "student_t")[..., 1:] >= torch.tensor([1e-4, 2.0])).all()     # scale > 0, df > 2


def test_student_t_learns_its_degrees_of_freedom(tmp_path):
    """A few steps move df; heavy-tailed noise under the t likelihood scores better than the Gaussian."""
    task = small_task(tmp_path, output="student_t")
    data = task.load()
    model = task.build_model(ModelConfig(hidden_size=8), task.describe(data))
    params = model(data.valid.inputs, data.valid.future)
    assert params.shape == (4, 6, 3) and (params[..., 2] > 2).all()
    before = model.head.bias.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        optimizer.zero_grad()
        task.loss(model, data.train, None)[0].backward()
        optimizer.step()
    assert not torch.equal(before[2::3], model.head.bias.detach()[2::3])           # df outputs are trained
    assert set(task.evaluate(model, [data.valid])) == {"mae", "rmse", "coverage"}


@pytest.mark.parametrize("forecaster", ["direct", "seq2seq", "autoregressive", "esrnn"])
def test_an_echo_state_reservoir_encodes_for_every_forecaster(tmp_path, forecaster):
    task = small_task(tmp_path, forecaster=forecaster, output="quantile")
    data = task.load()
    torch.manual_seed(0)
    model = task.build_model(ModelConfig(cell="reservoir", hidden_size=40), task.describe(data))
    fixed = {name: b.clone() for name, b in model.named_buffers()}
    assert fixed and not any("weight_hh" in name for name, _ in model.named_parameters())
    before = task.evaluate(model, [data.valid])["mae"]
    cfg = load_config(None, ["--train.iterations=25", "--train.eval_every=0", "--train.plots=false",
                             "--optim.lr=1e-2", f"--train.batch_size={min(64, len(data.train))}"])
    after = fit(model, task, data, cfg)["mae"]
    assert after < before                                       # the head (and ES-RNN smoothing) learn
    for name, b in model.named_buffers():                      # the reservoir never does
        torch.testing.assert_close(b, fixed[name], rtol=0, atol=0)
    forecasts = predict(model, task, task.panel())
    assert len(forecasts) == 4 and all(np.isfinite(f.point).all() for f in forecasts)
