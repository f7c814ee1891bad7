"""Forecasting a user's own file: columns named by the task, one series without an id column,
boolean and text covariates encoded (and the same way at predict time), the recorded splits and the
baselines scored on them, and what becomes of series too short for the run (task.short_series)."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest

import rnnkit
from rnnkit.config import ModelConfig
from rnnkit.data.series import SeriesError
from rnnkit.forecast.baselines import seasonal_naive
from rnnkit.forecast.synthetic import synthetic_panel
from rnnkit.tasks.forecasting.backtest import backtest
from rnnkit.tasks.forecasting.task import Forecasting

USER = {"time_column": "Time", "value_column": "Demand", "covariates": ("Temperature", "Holiday", "Day")}


def demand(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """One daily series in the user's own columns: a boolean, a text and a date column among them."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2020-01-01", periods=n, freq="D")
    weekend = t.dayofweek >= 5
    return pd.DataFrame({"Time": t, "Demand": 100 + 10 * np.sin(np.arange(n) / 3) - 20 * weekend + rng.normal(0, 1, n),
                         "Temperature": rng.normal(20, 3, n), "Date": t.strftime("%Y-%m-%d"),
                         "Holiday": rng.random(n) < 0.1, "Day": np.where(weekend, "weekend", "weekday")})


def written(tmp_path, table: pd.DataFrame, name: str = "demand.csv") -> str:
    table.to_csv(tmp_path / name, index=False)
    return str(tmp_path / name)


def test_columns_are_named_by_the_task_and_a_file_without_ids_is_one_series(tmp_path):
    path = written(tmp_path, demand())
    with pytest.raises(SeriesError, match=r"'.*demand.csv' has no column 'timestamp' for the timestamps "
                                          r"\(task.time_column\); its columns are \['Time', 'Demand'"):
        Forecasting(data=path).panel()
    with pytest.raises(SeriesError, match=r"no column 'value' for the values \(task.value_column\)"):
        Forecasting(data=path, time_column="Time").panel()
    with pytest.raises(SeriesError, match=r"no column 'store' for the series ids \(task.id_column; '' for a single"):
        Forecasting(data=path, id_column="store", **USER).panel()
    with pytest.raises(SeriesError, match=r"no covariate column 'Price' \(task.covariates"):
        Forecasting(data=path, **{**USER, "covariates": ("Price",)}).panel()
    panel = Forecasting(data=path, **USER).panel()
    assert panel.ids == ["series"] and panel.freq == "D" and len(panel.values[0]) == 120
    assert Forecasting(data=path, id_column="", **USER).panel().ids == ["series"]
    stores = pd.concat([demand(60).assign(store=s) for s in ("north", "south")])
    panel = Forecasting(data=written(tmp_path, stores, "stores.csv"), id_column="store", **USER).panel()
    assert panel.ids == ["north", "south"] and len(panel.values[1]) == 60
    assert Forecasting(data=path, **{**USER, "covariates": ()}).panel().covariate_names == ()


def test_boolean_and_text_covariates_are_encoded_and_recorded(tmp_path):
    table = demand()
    task = Forecasting(data=written(tmp_path, table), input_size=14, horizon=7, **USER)
    panel = task.panel()
    assert panel.covariate_names == ("Temperature", "Holiday", "Day=weekday", "Day=weekend")
    cov = panel.covariates[0]
    np.testing.assert_array_equal(cov[:, 1], table.Holiday.astype(float))
    np.testing.assert_array_equal(cov[:, 3], (table.Day == "weekend").astype(float))
    assert (cov[:, 2] + cov[:, 3] == 1).all()
    meta = task.describe(task.load())
    assert meta["categories"] == {"Day": ["weekday", "weekend"]} and meta["covariates"] == list(panel.covariate_names)
    assert meta["covariate_columns"] == ["Temperature", "Holiday", "Day"]
    every = Forecasting(data=task.data, time_column="Time", value_column="Demand")     # covariates "*": Date too
    with pytest.raises(SeriesError, match=r"column 'Date' holds dates or times .* leave it out: task.covariates = "
                                          r"\[\"Temperature\", \"Holiday\", \"Day\"\]"):
        every.panel()
    notes = table.assign(Note=[f"note {i}" for i in range(len(table))])
    with pytest.raises(SeriesError, match=r"column 'Note' holds text with 120 distinct values"):
        Forecasting(data=written(tmp_path, notes, "n.csv"), **{**USER, "covariates": ("Note",)}).panel()
    flags = table.assign(Holiday=np.where(table.Holiday, "TRUE", "false"))          # booleans written as text
    again = Forecasting(data=written(tmp_path, flags, "f.csv"), **USER).panel()
    np.testing.assert_array_equal(again.covariates[0], cov)


def test_a_saved_run_reads_the_users_columns_and_refuses_an_unseen_category(tmp_path, request):
    table = demand()
    run_dir = tmp_path / "run"
    rnnkit.run(rnnkit.load_config("configs/forecast.toml", [
        f"--task.data={written(tmp_path, table)}", "--task.time_column=Time", "--task.value_column=Demand",
        '--task.covariates=["Temperature", "Holiday", "Day"]', "--task.future_covariates=['Day']",
        "--task.input_size=14", "--task.horizon=7", "--task.baseline_methods=['seasonal_naive']",
        "--model.hidden_size=8", "--train.epochs=1", "--train.plots=false", f"--out_dir={run_dir}"]))
    plan = pd.DataFrame({"Time": pd.date_range(table.Time.iloc[-1], periods=8, freq="D")[1:]})
    plan["Day"] = np.where(plan.Time.dt.dayofweek >= 5, "weekend", "weekday")
    request.getfixturevalue("without_data")
    saved = rnnkit.load(run_dir)
    assert saved.meta["categories"] == {"Day": ["weekday", "weekend"]}
    frame = saved.predict(table.drop(columns="Date"), future=plan)
    assert len(frame) == 7 and frame.timestamp.min() > table.Time.max() and np.isfinite(frame.forecast).all()
    reordered = table[["Day", "Demand", "Holiday", "Time", "Temperature"]]
    pd.testing.assert_frame_equal(saved.predict(reordered, future=plan), frame)
    with pytest.raises(SeriesError, match=r"column 'Day' holds 'holiday' at row 3, a category not seen in training; "
                                          r"the categories are \['weekday', 'weekend'\]"):
        saved.predict(table.assign(Day=table.Day.where(table.index != 3, "holiday")), future=plan)
    with pytest.raises(SeriesError, match=r"future covariates table: column 'Day' holds 'sunday'"):
        saved.predict(table, future=plan.assign(Day="sunday"))


def small(tmp_path, lengths=(60, 50, 40), **settings) -> Forecasting:
    table = synthetic_panel(series=len(lengths), length=max(lengths), seed=1)
    table = table[table.groupby("series_id").cumcount() < table.series_id.map(
        {f"s{i}": n for i, n in enumerate(lengths)})]
    return Forecasting(data=written(tmp_path, table, "p.csv"), input_size=12, horizon=6, **settings)


@pytest.mark.parametrize("holdout", [0, 1, 2])
def test_the_splits_are_recorded_with_their_origins(tmp_path, holdout):
    task = small(tmp_path, holdout=holdout)
    data = task.load()
    ids, panel = data.ids, data.panel
    assert {k: ids[k] for k in ("input_size", "horizon", "holdout", "cut")} == {
        "input_size": 12, "horizon": 6, "holdout": holdout, "cut": 0}
    assert ("test" in ids) == (holdout == 2) and list(ids["valid"]) == ["s0", "s1", "s2"]
    for i, name in enumerate(panel.ids):
        n = len(panel.values[i])
        assert ids["train"][name]["end"] == n - holdout * 6
        assert ids["valid"][name] == {"origin": n - max(holdout, 1) * 6,
                                      "at": str(panel.times[i][n - max(holdout, 1) * 6])}
        if holdout == 2:
            assert ids["test"][name]["origin"] == n - 6
    json.dumps(ids)                                                         # JSON values only


@pytest.mark.parametrize("forecaster, scale", [("direct", "standard"), ("direct", "window"), ("esrnn", "standard")])
def test_baselines_are_scored_on_the_split_in_the_units_of_evaluate(tmp_path, forecaster, scale):
    task = small(tmp_path, forecaster=forecaster, scale=scale, baseline_methods=("seasonal_naive", "theta"),
                 **({"output": "quantile"} if forecaster == "esrnn" else {}))
    data = task.load()
    model = task.build_model(ModelConfig(hidden_size=4), task.describe(data))
    rows = task.baselines(data, ["test"])["test"]
    assert set(rows) == {"seasonal_naive", "theta"}
    assert all(set(m) == set(task.evaluate(model, [data.test])) for m in rows.values())
    errors = []
    for v, c in zip(data.panel.values, (data.ids["train"][s]["end"] for s in data.panel.ids)):
        o = c + 6
        f = seasonal_naive(v[:o], 6, 12).point
        unit = (v[o - 1] if forecaster == "esrnn" else np.abs(v[o - 12:o]).mean() if scale == "window"
                else v[:c].std())
        errors.append((f - v[o:o + 6]) / unit)
    assert rows["seasonal_naive"]["mae"] == pytest.approx(np.abs(errors).mean())
    assert rows["seasonal_naive"]["rmse"] == pytest.approx(np.sqrt(np.mean(np.square(errors))))
    with pytest.raises(ValueError, match="no 'test' split"):
        dataclasses.replace(task, holdout=1).baselines(dataclasses.replace(task, holdout=1).load(), ["test"])


def test_backtest_length_checks_count_the_holdout(tmp_path):
    task = small(tmp_path, lengths=(60, 30))              # 2 folds of step 3: cut 9 before the held-out part
    cut = dataclasses.replace(task, cut=9)
    with pytest.raises(SeriesError, match=r"shorter than cut \(9\) \+ input_size \(12\) \+ 2 \* horizon \(6; "
                                          r"task.holdout = 2\) = 33: 's1' \(30 points\); set task.short_series = "
                                          r"'drop' .*'baseline'.* fewer --folds"):
        cut.load()
    data = dataclasses.replace(cut, holdout=0).load()    # 9 + 12 + 1 * 6 = 27 <= 30
    assert data.panel.ids == ["s0", "s1"] and len(data.panel.values[1]) == 21


def test_short_series_error_drop_or_baseline(tmp_path):
    with pytest.raises(SeriesError, match=r"1 series are shorter than input_size \(12\) \+ 2 \* horizon .* = 24: "
                                          r"'s2' \(20 points\); set task.short_series"):
        small(tmp_path, lengths=(60, 50, 20)).load()
    drop = small(tmp_path, lengths=(60, 50, 20), short_series="drop")
    with pytest.warns(UserWarning, match=r"leaving out 1 series shorter than .* = 24 \(task.short_series = 'drop'\): "
                                         r"\['s2'\]"):
        data = drop.load()
    assert data.panel.ids == ["s0", "s1"] and data.ids["short"] == {"policy": "drop", "series": ["s2"]}
    assert len(data.valid) == 2 and "s2" not in data.ids["valid"]
    model = drop.build_model(ModelConfig(hidden_size=4), drop.describe(data))
    with pytest.warns(UserWarning, match="leaving out 1 series .* for this backtest"):
        rows = backtest(drop.panel(), drop, model=model, baselines=("naive",))
    assert {r["series_id"] for r in rows} == {"s0", "s1"}
    keep = dataclasses.replace(drop, short_series="baseline")
    with pytest.warns(UserWarning, match=r"1 series shorter than .* are forecast with a statistical method instead "
                                         r"of the network \(task.short_series = 'baseline'\): \['s2'\]"):
        assert keep.load().ids["short"] == {"policy": "baseline", "series": ["s2"]}
    with pytest.warns(UserWarning, match="statistical method"):               # no selection: seasonal naive
        rows = backtest(keep.panel(), keep, model=model, baselines=("seasonal_naive",))
    by = {(r["method"], r["series_id"]): r for r in rows}
    assert by["rnnkit", "s2"]["forecast_by"] == "seasonal_naive" and by["rnnkit", "s0"]["forecast_by"] == "network"
    assert by["rnnkit", "s2"]["mae"] == by["seasonal_naive", "s2"]["mae"]


def test_the_predictor_follows_short_series(tmp_path):
    task = small(tmp_path, lengths=(60, 50))
    model = task.build_model(ModelConfig(hidden_size=4), task.describe(task.load()))
    history = pd.read_csv(task.data)
    history = pd.concat([history, history[history.series_id == "s1"].head(8).assign(series_id="new")])
    with pytest.raises(SeriesError, match=r"1 series have fewer than input_size = 12 points .*\['new'\]; set "
                                          r"task.short_series"):
        task.predictor(model, task.describe(task.load())).predict(history)
    for policy in ("drop", "baseline"):
        other = dataclasses.replace(task, short_series=policy)
        with pytest.warns(UserWarning, match="fewer than input_size"):
            frame = other.predictor(model, other.describe(other.load())).predict(history)
        if policy == "drop":
            assert list(frame.series_id.unique()) == ["s0", "s1"] and "forecast_by" not in frame
        else:
            assert list(frame.groupby("series_id", sort=False).forecast_by.first()) == [
                "network", "network", "seasonal_naive"]
            new = history[history.series_id == "new"].value.to_numpy()
            np.testing.assert_allclose(frame[frame.series_id == "new"].forecast, seasonal_naive(new, 6, 12).point)


@pytest.mark.parametrize("content, message", [
    ("", "is empty: it needs a header row"),
    ("series_id,timestamp,value\n", r"has no rows after its header \(columns \['series_id', 'timestamp', 'value'\]\)"),
    ('a,b\n1,2,3,4\n"x\n', "could not be read as a table: Error tokenizing data"),
    (b"timestamp,value\n2020-01-01,1\n\xff\xfe,2\n", "is not UTF-8 text"),
])
def test_unreadable_tables_are_one_line_naming_the_file(tmp_path, capsys, content, message):
    from rnnkit.cli import main

    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["forecast", "train", "configs/forecast.toml", f"--task.data={path}",
                 f"--out_dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and re.search(message, err)
    assert not (tmp_path / "run").exists()
