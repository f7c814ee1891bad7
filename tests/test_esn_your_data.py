"""Echo state networks on your own series: a CSV column predicted one step ahead (or driven by an
input column), clear errors, the recorded split, and the persistence and ridge-AR baselines scored
like the model."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.data.series_csv import read_series_csv
from rnnkit.runs import BASELINES_FILE, SPLIT_FILE
from rnnkit.tasks import ChaoticSeries

TINY = ["--model.hidden_size=40", "--task.washout=20", "--task.horizon=5", "--train.plots=false"]


def write_series(path, steps: int = 400, seed: int = 0):
    """An AR(2) oscillation in the thousands (y_t = 1.6 y_{t-1} - 0.8 y_{t-2} + noise) beside a step counter."""
    rng = np.random.default_rng(seed)
    y = np.zeros(steps)
    y[:2] = 1.0
    for t in range(2, steps):
        y[t] = 1.6 * y[t - 1] - 0.8 * y[t - 2] + 0.05 * rng.standard_normal()
    path.write_text("step,load\n" + "".join(f"{i},{float(1000 + 50 * v)!r}\n" for i, v in enumerate(y)))
    return 1000 + 50 * y


def test_read_series_csv_picks_the_only_series_and_says_what_is_wrong(tmp_path) -> None:
    values = write_series(tmp_path / "s.csv", 30)
    got, inputs, name = read_series_csv(tmp_path / "s.csv")                  # the step counter is no series
    assert name == "load" and inputs is None and np.allclose(got, values)
    (tmp_path / "bare.csv").write_text("1.5\n2.5\n4\n")                       # no header: columns 0, 1, ...
    assert read_series_csv(tmp_path / "bare.csv")[0].tolist() == [1.5, 2.5, 4.0]
    (tmp_path / "two.csv").write_text("a,b\n1,2\n3,5\n4,4\n")
    with pytest.raises(ValueError, match=r"numeric columns \['a', 'b'\].*task.column"):
        read_series_csv(tmp_path / "two.csv")
    with pytest.raises(ValueError, match="no column 'lod'; did you mean 'load'"):
        read_series_csv(tmp_path / "s.csv", column="lod")
    (tmp_path / "gap.csv").write_text("x\n1\n2\n\n4\n")
    (tmp_path / "gap.csv").write_text("t,x\n0,1\n1,2\n2,\n3,4\n")
    with pytest.raises(ValueError, match="'x' of .*gap.csv has an empty cell at line 4; fill in or drop"):
        read_series_csv(tmp_path / "gap.csv")
    (tmp_path / "word.csv").write_text("x,u\n1,0\nhigh,1\n")
    with pytest.raises(ValueError, match="'high', not a number, at line 3"):
        read_series_csv(tmp_path / "word.csv", column="x", input_column="u")
    with pytest.raises(ValueError, match="no file 'missing.csv': task.series is mackey_glass, narma10 or"):
        read_series_csv("missing.csv")


def test_a_csv_series_is_split_standardised_and_recorded(tmp_path) -> None:
    write_series(tmp_path / "s.csv", 401)                                       # 400 one-step-ahead steps
    task = ChaoticSeries(series=str(tmp_path / "s.csv"), washout=20, horizon=5, valid_fraction=0.2,
                         test_fraction=0.1)
    data = task.load()
    assert data.ids == {**data.ids, "file": "s.csv", "column": "load", "input_column": None, "washout": 20,
                        "train": [21, 281], "valid": [281, 361], "test": [361, 401]}   # rows of the predicted values
    assert data.train.inputs.shape == (1, 280, 1) and data.valid.inputs.shape == (1, 20 + 80, 1)
    assert data.test.inputs.shape == (1, 20 + 40, 1)                          # warmed up on the 20 steps before
    torch.testing.assert_close(data.valid.inputs[0, 1:], data.valid.targets[0, :-1])   # u_t = y_{t-1}: one scale
    assert abs(float(data.train.targets.mean())) < 1e-9 and task.describe(data)["scale"]["target"][1] > 1
    with pytest.raises(ValueError, match="leaves 8 valid steps, fewer than 10 .*lower task.horizon"):
        ChaoticSeries(series=str(tmp_path / "s.csv"), washout=20, horizon=9, valid_fraction=0.02).load()
    with pytest.raises(ValueError, match="not more than task.washout"):
        ChaoticSeries(series=str(tmp_path / "s.csv"), washout=300).load()
    with pytest.raises(ValueError, match="name the columns of a CSV file"):
        ChaoticSeries(series="narma10", column="load")


def test_baselines_are_scored_like_the_model(tmp_path) -> None:
    write_series(tmp_path / "s.csv", 1500)
    task = ChaoticSeries(series=str(tmp_path / "s.csv"), washout=20, horizon=5)
    data = task.load()
    rows = task.baselines(data, ["test"])["test"]
    persistence, (ar_name, ar) = rows["persistence"], list(rows.items())[1]
    assert list(persistence) == list(ar) == ["nrmse", "nrmse_5"]               # evaluate's names
    assert ar_name.startswith("ridge_ar_") and ar["nrmse"] < 0.6 * persistence["nrmse"]   # an AR(2) process
    y = data.test.targets[0, :, 0]
    scored, previous = y[20:], torch.cat([data.test.inputs[0, :1, 0], y[:-1]])[20:]
    assert persistence["nrmse"] == pytest.approx(float((previous - scored).pow(2).mean().sqrt() / scored.std()))
    starts = torch.arange(20, len(y) - 5, 200)
    held = float((y[starts] - y[starts + 5]).pow(2).mean().sqrt() / scored.std())
    assert persistence["nrmse_5"] == pytest.approx(held)


def test_a_driven_series_and_the_generated_ones(tmp_path) -> None:
    rng = np.random.default_rng(1)
    u = rng.uniform(0, 0.5, 600)
    y = np.convolve(u, [0.5, 0.3, 0.2])[:600]                                  # y_t depends on u_t, u_{t-1}, u_{t-2}
    (tmp_path / "plant.csv").write_text("u,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(u, y)))
    task = ChaoticSeries(series=str(tmp_path / "plant.csv"), column="y", input_column="u", washout=10)
    data = task.load()
    assert data.ids["train"] == [10, 420] and not task.one_step_ahead
    rows = task.baselines(data, ["valid"])["valid"]
    assert list(rows["persistence"]) == ["nrmse"] and rows["ridge_ar_3"]["nrmse"] < 1e-3   # the exact filter
    narma = ChaoticSeries(series="narma10", train_steps=600, valid_steps=300, test_steps=300, washout=50)
    ids = narma.load().ids
    assert ids == {"series": "narma10", "seed": 0, "washout": 50, "train": [0, 600], "valid": [600, 900],
                   "test": [900, 1200]}


def test_esn_series_config_on_a_csv_then_the_saved_run_without_its_data(tmp_path) -> None:
    values = write_series(tmp_path / "s.csv", 600)
    cfg = rnnkit.load_config("configs/esn_series.toml", [f"--task.series={tmp_path / 's.csv'}", *TINY,
                                                         f"--out_dir={tmp_path / 'run'}"])
    rnnkit.run(cfg)
    assert json.loads((tmp_path / "run" / SPLIT_FILE).read_text())["ids"]["test"] == [510, 600]
    table = json.loads((tmp_path / "run" / BASELINES_FILE).read_text())
    assert list(table["test"]) == ["model", "persistence", next(k for k in table["test"] if k.startswith("ridge_ar"))]
    assert all(math.isfinite(v) for row in table["test"].values() for v in row.values())
    before = rnnkit.load(tmp_path / "run").predict(values[:500], steps=5)
    (tmp_path / "s.csv").unlink()                                               # the run alone predicts
    after = rnnkit.load(tmp_path / "run").predict(values[:500], steps=5)
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    assert float((after - torch.tensor(values[500:505])).abs().max()) < float(np.std(values))   # in the file's units


def test_generate_and_eval_commands_on_a_csv_run(tmp_path, capsys) -> None:
    values = write_series(tmp_path / "s.csv", 600)
    run = tmp_path / "run"
    rnnkit.run(rnnkit.load_config("configs/esn_series.toml", [f"--task.series={tmp_path / 's.csv'}", *TINY,
                                                               f"--out_dir={run}"]))
    capsys.readouterr()
    assert main(["generate", str(run), "--steps=5"]) == 0                   # closed loop from the test part's start
    out, err = capsys.readouterr()
    rows = [line.split(",") for line in out.strip().splitlines()[1:]]
    assert [float(t) for _, _, t in rows] == pytest.approx(values[510:515].tolist())   # truth in the file's units
    assert "the test split" in err
    assert main(["generate", str(run), "--steps=5", "--seed=1"]) == 2           # a file has no fresh draws
    assert "no fresh series to draw" in capsys.readouterr().err
    assert main(["eval", str(run), "--split=test", "--baselines"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["baselines"]) == set(json.loads((run / BASELINES_FILE).read_text())["test"]) - {"model"}
