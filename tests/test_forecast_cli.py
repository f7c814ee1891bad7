"""`rnnkit forecast train|predict|backtest` end to end on a tiny generated panel."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rnnkit.cli import main
from rnnkit.forecast.synthetic import synthetic_panel

TINY = ["--task.input_size=12", "--task.horizon=6", "--model.hidden_size=8", "--train.iterations=3",
        "--train.epochs=0", "--train.batch_size=16", "--train.eval_every=0",
        "--train.eval_every_epochs=0"]


def test_train_predict_and_plot(tmp_path, capsys):
    synthetic_panel(series=3, length=60, seed=2).to_csv(tmp_path / "p.csv", index=False)
    run_dir = tmp_path / "run"
    assert main(["forecast", "train", "configs/forecast_lstm.toml", f"--task.data={tmp_path / 'p.csv'}",
                 f"--out_dir={run_dir}", *TINY]) == 0
    assert main(["forecast", "predict", str(run_dir), "--plot", "s1"]) == 0
    table = pd.read_csv(run_dir / "forecast.csv")
    assert list(table.columns) == ["series_id", "timestamp", "forecast", "lower_80", "upper_80"]
    assert len(table) == 3 * 6 and (table.lower_80 <= table.forecast).all() and (table.forecast <= table.upper_80).all()
    assert table.timestamp.iloc[0] > pd.read_csv(tmp_path / "p.csv").query("series_id == 's0'").timestamp.max()
    assert (run_dir / "forecast_s1.png").stat().st_size > 1000
    assert main(["forecast", "predict", str(run_dir), "--plot", "nope"]) == 2
    assert "no series 'nope'" in capsys.readouterr().err


def test_backtest_reports_model_and_baselines(tmp_path, capsys):
    synthetic_panel(series=3, length=60, seed=3).to_csv(tmp_path / "p.csv", index=False)
    out = tmp_path / "bt.csv"
    with pytest.warns(UserWarning, match="only forecast"):               # cut before the first origin, s2 is short
        assert main(["forecast", "backtest", "configs/forecast_lstm.toml", f"--task.data={tmp_path / 'p.csv'}",
                     "--folds=2", "--step=3", "--baselines=naive,drift", f"--out={out}", *TINY]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[printed.index("{\n"):])
    assert set(summary) == {"rnnkit", "naive", "drift"} and set(summary["naive"]) >= {"smape", "mase", "coverage"}
    rows = pd.read_csv(out)
    assert set(rows.method) == {"rnnkit", "naive", "drift"} and len(rows) == 3 * 2 * 3


def test_wrong_task_is_an_error(capsys):
    assert main(["forecast", "backtest", "configs/adding_lstm.toml"]) == 2
    assert "needs task.name = 'forecasting'" in capsys.readouterr().err


def test_esrnn_config_trains_and_predicts(tmp_path):
    synthetic_panel(series=3, length=60, seed=2).to_csv(tmp_path / "p.csv", index=False)
    run_dir = tmp_path / "es"
    assert main(["forecast", "train", "configs/forecast_esrnn.toml", f"--task.data={tmp_path / 'p.csv'}",
                 f"--out_dir={run_dir}", *TINY, "--train.batch_size=3", "--task.select=network"]) == 0
    assert main(["forecast", "predict", str(run_dir)]) == 0
    table = pd.read_csv(run_dir / "forecast.csv")
    assert len(table) == 3 * 6 and (table.forecast > 0).all()
    # the same model's forecasts combined with seasonal naive (median of two = their mean)
    combined_dir = tmp_path / "es_combined"
    assert main(["forecast", "train", "configs/forecast_esrnn.toml", f"--task.data={tmp_path / 'p.csv'}",
                 f"--out_dir={combined_dir}", *TINY, "--train.batch_size=3",
                 "--task.combine=['seasonal_naive']"]) == 0
    assert main(["forecast", "predict", str(combined_dir)]) == 0
    combined = pd.read_csv(combined_dir / "forecast.csv")
    history = pd.read_csv(tmp_path / "p.csv").groupby("series_id").value
    snaive = np.concatenate([v.to_numpy()[-12:][:6] for _, v in history])             # season 12, horizon 6
    np.testing.assert_allclose(combined.forecast, (table.forecast + snaive) / 2, rtol=1e-6)


def test_predict_reads_future_covariates(tmp_path, capsys):
    table = synthetic_panel(series=2, length=60, seed=2)
    table.assign(promo=(table.index % 3 == 0).astype(float)).to_csv(tmp_path / "p.csv", index=False)
    run_dir = tmp_path / "cov"
    assert main(["forecast", "train", "configs/forecast_lstm.toml", f"--task.data={tmp_path / 'p.csv'}",
                 f"--out_dir={run_dir}", "--task.future_covariates=['promo']", *TINY]) == 0
    assert main(["forecast", "predict", str(run_dir)]) == 2
    assert "--future=FILE" in capsys.readouterr().err
    last = pd.read_csv(tmp_path / "p.csv").groupby("series_id").timestamp.max()
    plan = pd.concat([pd.DataFrame({"series_id": s, "promo": 1.0, "timestamp": pd.date_range(t, periods=7,
                                                                                           freq="MS")[1:]})
                      for s, t in last.items()])
    plan.to_csv(tmp_path / "plan.csv", index=False)
    assert main(["forecast", "predict", str(run_dir), f"--future={tmp_path / 'plan.csv'}"]) == 0
    assert len(pd.read_csv(run_dir / "forecast.csv")) == 2 * 6


def test_your_own_file_with_the_general_config(tmp_path, capsys):
    """configs/forecast.toml on a file in the user's own columns: train, predict, backtest."""
    days = pd.date_range("2021-01-04", periods=84, freq="D")
    frame = pd.DataFrame({"Time": days, "Demand": 50 + 10 * (days.dayofweek >= 5) + np.arange(84) % 3,
                          "Promo": np.arange(84) % 10 == 0, "Day": np.where(days.dayofweek >= 5, "weekend", "work")})
    stores = pd.concat([frame.assign(Store="big"), frame.iloc[:30].assign(Store="new", Demand=frame.Demand[:30] / 2)])
    stores.to_csv(tmp_path / "stores.csv", index=False)
    user = [f"--task.data={tmp_path / 'stores.csv'}", "--task.id_column=Store", "--task.time_column=Time",
            "--task.value_column=Demand", "--task.covariates=['Promo']", "--task.future_covariates=['Day']",
            "--task.input_size=14", "--task.horizon=7", "--task.baseline_methods=['seasonal_naive']",
            "--model.hidden_size=8", "--train.epochs=1", "--train.batch_size=16", "--train.plots=false"]
    run_dir = tmp_path / "run"
    with pytest.warns(UserWarning, match=r"only forecast: \['new'\]"):        # 30 points: no training window
        assert main(["forecast", "train", "configs/forecast.toml", *user, f"--out_dir={run_dir}"]) == 0
    assert "seasonal_naive" in capsys.readouterr().out
    assert json.loads((run_dir / "split.json").read_text())["ids"]["test"]["new"]["origin"] == 23
    plan = pd.concat([pd.DataFrame({"Store": s, "Time": pd.date_range(end, periods=8, freq="D")[1:]})
                      for s, end in (("big", days[-1]), ("new", days[29]))])
    plan.assign(Day=np.where(plan.Time.dt.dayofweek >= 5, "weekend", "work")).to_csv(tmp_path / "plan.csv", index=False)
    assert main(["forecast", "predict", str(run_dir), f"--future={tmp_path / 'plan.csv'}"]) == 0
    assert "wrote" in capsys.readouterr().out and len(pd.read_csv(run_dir / "forecast.csv")) == 2 * 7
    out = tmp_path / "bt.csv"
    assert main(["forecast", "backtest", "configs/forecast.toml", *user, "--folds=2", "--baselines=seasonal_naive",
                 f"--out={out}"]) == 2                                    # 'new' is short for 2 folds + holdout
    assert "'new' (30 points); set task.short_series" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="a statistical method instead of the network"):
        assert main(["forecast", "backtest", "configs/forecast.toml", *user, "--folds=2", "--task.holdout=0",
                     "--task.short_series=baseline", "--baselines=seasonal_naive", f"--out={out}"]) == 0
    rows = pd.read_csv(out)
    by = dict(rows[rows.method == "rnnkit"].groupby("series_id").forecast_by.first().items())
    assert by == {"big": "network", "new": "seasonal_naive"}     # holdout = 0: no validated selection to follow
