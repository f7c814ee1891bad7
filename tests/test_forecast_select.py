"""The validated selection (task.select = "validate", select.py): it picks a baseline where the
network validates worse, prefers a combination within one standard error of the best (the default
rule), keeps the choice in the run, and the saved run's predict uses it; the
known-future features reach each horizon step through a decoder shared by the steps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import rnnkit
from rnnkit.config import from_dict
from rnnkit.forecast.baselines import BASELINES
from rnnkit.forecast.combine import combine
from rnnkit.models.forecaster import Forecaster
from rnnkit.models.stack import build_rnn
from rnnkit.tasks.forecasting.select import CANDIDATES, NETWORK
from rnnkit.tasks.forecasting.task import Forecasting

pytest.importorskip("statsforecast")


def seasonal_csv(path, series: int = 3, length: int = 96) -> str:
    """Clean monthly seasonal series with a little noise: Theta and ETS forecast them well."""
    rng = np.random.default_rng(0)
    t = np.arange(length)
    parts = [pd.DataFrame({"series_id": f"s{i}", "timestamp": pd.date_range("2000-01-01", periods=length, freq="MS"),
                           "value": 100 + 10 * i + 20 * np.sin(2 * np.pi * t / 12 + i) + rng.normal(0, 1, length),
                           "group": "a" if i < 2 else "b"})
             for i in range(series)]
    pd.concat(parts).to_csv(path, index=False)
    return str(path)


def train(tmp_path, **task):
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = seasonal_csv(tmp_path / "s.csv")
    cfg = from_dict({"seed": 0, "out_dir": str(tmp_path / "run"),
                     "task": {"name": "forecasting", "data": data, "input_size": 24, "horizon": 12, **task},
                     "model": {"hidden_size": 4},
                     "train": {"iterations": 1, "eval_every": 1, "plots": False, "baselines": False}})
    rnnkit.run(cfg)
    return tmp_path / "run", data


def test_an_untrained_network_loses_to_a_baseline_and_the_saved_run_predicts_with_it(tmp_path, capsys):
    run_dir, data = train(tmp_path, select_rule="best")
    selection = json.loads((run_dir / "meta.json").read_text())["meta"]["selection"]
    chosen = selection["choice"]["MS"]
    assert NETWORK not in CANDIDATES[chosen][0]                       # one iteration: the network is worst
    assert selection["valid_mase"]["MS"][chosen] < selection["valid_mase"]["MS"][NETWORK]
    assert "<- chosen" in capsys.readouterr().out                     # the table says what and why
    table = pd.read_csv(data)
    forecast = rnnkit.load(run_dir).predict(table)
    members, how = CANDIDATES[chosen]
    for name, rows in table.groupby("series_id"):
        y = rows.value.to_numpy()
        expected = combine([BASELINES[m](y, 12, 12, 0.8) for m in members], how).point
        np.testing.assert_allclose(forecast[forecast.series_id == name].forecast, expected, rtol=1e-6)


def test_the_default_rule_keeps_the_largest_combination_within_one_standard_error(tmp_path):
    run_dir, _ = train(tmp_path)
    selection = json.loads((run_dir / "meta.json").read_text())["meta"]["selection"]
    valid, se, chosen = selection["valid_mase"]["MS"], selection["valid_se"]["MS"], selection["choice"]["MS"]
    best = min(valid, key=valid.get)
    near = [k for k in valid if valid[k] <= valid[best] + se[k]]
    assert selection["rule"] == "one_se" and chosen in near and chosen != NETWORK
    assert len(CANDIDATES[chosen][0]) == max(len(CANDIDATES[k][0]) for k in near)
    assert NETWORK not in CANDIDATES[selection["without_network"]["choice"]["MS"]][0]


def test_one_standard_error_rule():
    from rnnkit.tasks.forecasting.select import choose, pick, standard_errors

    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 1.5, 200)

    def noise(scale: float) -> np.ndarray:          # mean exactly 0: the means are what the comments say
        n = rng.normal(0, scale, 200)
        return n - n.mean()

    # ETS best by 0.005 on average, with per-series differences of spread 0.2 (SE about 0.014): the
    # combination is kept; by 0.1 it is not
    close = {"ets": base, "mean(theta,ets)": base + 0.005 + noise(0.2), "theta": base + 0.3, NETWORK: base + 0.004}
    far = {**close, "mean(theta,ets)": base + 0.1 + noise(0.2)}
    assert pick(close, "one_se") == "mean(theta,ets)" and pick(close, "best") == "ets"
    assert pick(far, "one_se") == "ets"
    assert standard_errors(close)["ets"] == 0.0 and 0.01 < standard_errors(close)["mean(theta,ets)"] < 0.02
    # one series: no spread to measure, the best is kept; NaN series (constant history) are left out
    one = {"ets": np.array([0.8]), "mean(theta,ets)": np.array([0.81])}
    assert pick(one, "one_se") == "ets"
    with_nan = {"ets": np.r_[base, np.nan], "mean(theta,ets)": np.r_[base + 0.005 + noise(0.2), np.nan]}
    assert pick(with_nan, "one_se") == "mean(theta,ets)"
    # per group and pooled; `among` leaves the network out; nothing scorable falls back
    groups = {"a": close, "b": far}
    assert choose(groups) == ({"a": "mean(theta,ets)", "b": "ets"}, "ets")
    assert choose({"a": {NETWORK: base - 1, "ets": base}}, among=["ets", "theta"]) == ({"a": "ets"}, "ets")
    assert choose({"a": {"ets": np.array([np.nan])}}) == ({"a": NETWORK}, NETWORK)
    with pytest.raises(ValueError, match="select_rule"):
        Forecasting(select_rule="lowest")


def test_select_network_keeps_the_network_and_groups_come_from_a_column(tmp_path):
    run_dir, data = train(tmp_path, select="network")
    assert "selection" not in json.loads((run_dir / "meta.json").read_text())["meta"]
    run_dir, data = train(tmp_path / "g", select_by="group")
    meta = json.loads((run_dir / "meta.json").read_text())["meta"]
    assert set(meta["selection"]["choice"]) == {"a", "b"} and "group" not in meta["covariates"]
    with pytest.raises(ValueError, match="task.select = 'best'"):
        Forecasting(select="best")


def test_each_horizon_step_reads_its_own_known_future_features():
    """MQ-RNN's local decoder: the features of step k move the forecast of step k only (the earlier
    flattened linear head let every step's features move every output, K x K weights each)."""
    torch.manual_seed(0)
    model = Forecaster(build_rnn(rnnkit.config.ModelConfig(hidden_size=8), 3), 6, future_size=2)
    x, future = torch.randn(4, 10, 3), torch.randn(4, 6, 2)
    moved = future.clone()
    moved[:, 3] += 1.0
    delta = (model(x, moved) - model(x, future)).abs().sum(dim=(0, 2))   # (K,)
    assert delta[3] > 0 and torch.all(delta[[0, 1, 2, 4, 5]] == 0)


def test_series_too_short_for_the_network_take_the_best_method_without_it(tmp_path):
    from rnnkit.tasks.forecasting.select import without_network

    selection = {"valid_mase": {"a": {NETWORK: 0.5, "mean(network,theta)": 0.6, "ets": 0.9, "theta": 0.8},
                                "b": {NETWORK: 0.7, "ets": 0.7, "theta": 0.75, "mean(theta,ets)": 1.0}}}
    # the network is best in both groups, yet the short series get the best method that does not read it;
    # an unseen group the best over all groups; no selection: the fallback
    assert without_network(selection, ["a", "b", "zz"], "seasonal_naive") == ["theta", "ets", "theta"]
    assert without_network(None, ["a"], "seasonal_naive") == ["seasonal_naive"]
    # a run's own choice at validation (by its rule) wins; an unseen group takes the one over all groups
    decided = {**selection, "without_network": {"choice": {"a": "mean(theta,ets)"}, "default": "ets"}}
    assert without_network(decided, ["a", "zz"], "seasonal_naive") == ["mean(theta,ets)", "ets"]
    run_dir, data = train(tmp_path, short_series="baseline")
    table = pd.read_csv(data)
    short = table[table.series_id == "s0"].head(20).assign(series_id="new")     # fewer than input_size = 24
    with pytest.warns(UserWarning, match="statistical method instead of the network"):
        forecast = rnnkit.load(run_dir).predict(pd.concat([table, short]))
    selection = json.loads((run_dir / "meta.json").read_text())["meta"]["selection"]
    method = without_network(selection, ["MS"], "seasonal_naive")[0]
    new = forecast[forecast.series_id == "new"]
    assert set(new.forecast_by) == {method} and NETWORK not in CANDIDATES[method][0]
    members, how = CANDIDATES[method]
    expected = combine([BASELINES[m](short.value.to_numpy(), 12, 12, 0.8) for m in members], how).point
    np.testing.assert_allclose(new.forecast, expected, rtol=1e-6)


def test_eval_scores_what_the_run_forecasts_with_the_network_on_a_row_of_its_own(tmp_path):
    """`rnnkit eval` and the end-of-run table: "model" is the validated choice, "network" the network
    alone, both in the units the baselines are scored in."""
    from rnnkit.runs.load import evaluate_run
    from rnnkit.tasks.forecasting.backtest import predict
    from rnnkit.tasks.forecasting.baselines import forecast_scores

    run_dir, _ = train(tmp_path, select_rule="best", baseline_methods=["seasonal_naive", "ets", "theta"])
    saved = rnnkit.load(run_dir)
    chosen = saved.meta["selection"]["choice"]["MS"]
    table = evaluate_run(run_dir, "test", baselines=True)
    assert set(table) == {"model", "network", "seasonal_naive", "ets", "theta"}
    assert table["model"] != table["network"]
    assert chosen in table                                   # ETS validates best here: a single baseline,
    assert table["model"] == pytest.approx(table[chosen], rel=1e-12)           # so its own row, to the digit
    assert evaluate_run(run_dir, "test") == table["model"]
    # the network through the forecast path lands on the metrics `evaluate` gives it: the same units
    data = saved.task.load()
    alone = forecast_scores(saved.task, data.panel, data.ids, "test",
                            lambda part, origins: predict(saved.model, saved.task, part, origins))
    assert alone == pytest.approx(table["network"], rel=1e-5)
    # a run that keeps the network has no second row
    run_dir, _ = train(tmp_path / "n", select="network")
    assert "network" not in evaluate_run(run_dir, "test", baselines=True)


def test_forecast_select_chooses_again_on_the_saved_run(tmp_path, capsys):
    """`rnnkit forecast select RUN --rule=...`: the same validation windows and network, another
    rule; meta.json is rewritten and the run's forecasts follow the new choice."""
    from rnnkit.cli import main

    run_dir, data = train(tmp_path, select_rule="best")
    before = json.loads((run_dir / "meta.json").read_text())["meta"]
    weights = (run_dir / "model.safetensors").read_bytes()
    assert main(["forecast", "select", str(run_dir), "--rule=one_se"]) == 0
    after = json.loads((run_dir / "meta.json").read_text())["meta"]
    assert after["selection"]["rule"] == "one_se"
    assert after["selection"]["valid_mase"] == before["selection"]["valid_mase"]
    assert {k: v for k, v in after.items() if k != "selection"} == {k: v for k, v in before.items() if k != "selection"}
    assert "one standard error" in capsys.readouterr().out
    assert (run_dir / "model.safetensors").read_bytes() == weights                  # the weights are not touched
    fresh, _ = train(tmp_path / "fresh")                              # the same run trained with the default rule
    assert after["selection"]["choice"] == json.loads((fresh / "meta.json").read_text())["meta"]["selection"]["choice"]
    assert main(["forecast", "select", str(run_dir), "--rule=best"]) == 0
    assert json.loads((run_dir / "meta.json").read_text())["meta"]["selection"] == before["selection"]
    run_dir, _ = train(tmp_path / "n", select="network")
    assert main(["forecast", "select", str(run_dir)]) == 2                # nothing to select: a one-line error
    assert "task.select = 'validate'" in capsys.readouterr().err
