"""The saved run is a contract, for forecasting (every forecaster) and speech: the run directory
alone gives back the model and its predictor, with the training data deleted and every task's
`load` refusing (the `without_data` fixture); the forecasts and transcripts equal those before."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.forecast.synthetic import synthetic_panel
from rnnkit.train.checkpoint import META_FILE
from test_speech_task import CONFIG as SPEECH_CONFIG
from test_speech_task import write_tones

TINY = ["--task.input_size=12", "--task.horizon=6", "--model.hidden_size=8", "--train.iterations=3",
        "--train.epochs=0", "--train.eval_every=0", "--train.eval_every_epochs=0", "--train.plots=false"]
FORECASTERS = {                 # each with what its meta.json must carry besides the sizes
    "direct": ("configs/forecast_lstm.toml", ["--train.batch_size=16"], "temperature"),
    "seq2seq": ("configs/forecast_lstm.toml", ["--task.forecaster=seq2seq", "--train.batch_size=16"], ""),
    "autoregressive": ("configs/forecast_lstm.toml", ["--task.forecaster=autoregressive",
                                                      "--task.output=student_t", "--train.batch_size=16"], ""),
    "esrnn": ("configs/forecast_esrnn.toml", ["--train.batch_size=3", "--task.season_init=decompose"], ""),
}


def history(covariate: str) -> pd.DataFrame:
    table = synthetic_panel(series=3, length=60, seed=2)
    return table.assign(**{covariate: (table.index % 5) / 5.0}) if covariate else table


@pytest.mark.parametrize("forecaster", sorted(FORECASTERS))
def test_a_forecasting_run_predicts_without_its_data(forecaster, tmp_path, request, capsys):
    config, overrides, covariate = FORECASTERS[forecaster]
    data = tmp_path / "series.csv"
    history(covariate).to_csv(data, index=False)
    run_dir = tmp_path / "run"
    rnnkit.run(rnnkit.load_config(config, [f"--task.data={data}", f"--out_dir={run_dir}", *TINY, *overrides]))
    frame = pd.read_csv(data)
    before = rnnkit.load(run_dir).predict(frame)
    data.unlink()
    request.getfixturevalue("without_data")
    saved = rnnkit.load(run_dir)
    assert saved.cfg.task.name == "forecasting" and not saved.model.training
    after = saved.predict(frame)
    pd.testing.assert_frame_equal(after, before, check_exact=True)
    assert list(after.columns) == ["series_id", "timestamp", "forecast", "lower_80", "upper_80"]
    assert len(after) == 3 * 6 and (after.lower_80 <= after.upper_80).all()
    assert (after.groupby("series_id").timestamp.min() > frame.groupby("series_id").timestamp.max()).all()
    meta = json.loads((run_dir / META_FILE).read_text())["meta"]
    assert meta["series_ids"] == ["s0", "s1", "s2"] and meta["freq"] == "MS" and meta["season"] == 12
    assert meta["covariates"] == ([covariate] if covariate else [])
    if forecaster == "esrnn":       # series are found by id: any of the trained ones, in any order
        assert len(meta["init_season"]) == 3 and len(meta["init_season"][0]) == 12
        two = saved.predict(frame[frame.series_id != "s1"].iloc[::-1].sort_values("timestamp", kind="stable"))
        expected = before[before.series_id != "s1"].set_index(["series_id", "timestamp"])
        pd.testing.assert_frame_equal(two.set_index(["series_id", "timestamp"]).loc[expected.index], expected)
        with pytest.raises(ValueError, match="series 'new' was not in this ES-RNN's training data"):
            saved.predict(frame.assign(series_id="new").iloc[:60])
    # the command line, on the user's own copy of the history
    frame.to_csv(tmp_path / "mine.csv", index=False)
    out = tmp_path / "forecast.csv"
    assert main(["forecast", "predict", str(run_dir), f"--data={tmp_path / 'mine.csv'}", f"--out={out}"]) == 0
    written = pd.read_csv(out, float_precision="round_trip")                        # the CLI writes repr(float)
    expected = saved.predict(tmp_path / "mine.csv")                                 # a path, read as the CLI does
    pd.testing.assert_frame_equal(written.drop(columns="timestamp"), expected.drop(columns="timestamp"),
                                  check_exact=True)
    assert (pd.to_datetime(written.timestamp) == expected.timestamp).all()
    assert "wrote" in capsys.readouterr().out


def test_a_forecasting_run_checks_the_history_it_is_given(tmp_path, request):
    data = tmp_path / "series.csv"
    history("temperature").to_csv(data, index=False)
    run_dir = tmp_path / "run"
    rnnkit.run(rnnkit.load_config("configs/forecast_lstm.toml", [f"--task.data={data}", f"--out_dir={run_dir}",
                                                                 *TINY, "--train.batch_size=16"]))
    frame = pd.read_csv(data)
    request.getfixturevalue("without_data")
    saved = rnnkit.load(run_dir)
    with pytest.raises(ValueError, match=r"the table has no covariate column 'temperature'"):
        saved.predict(frame.drop(columns="temperature"))
    extra = frame.assign(note="a remark")                                # columns the run does not read are ignored
    pd.testing.assert_frame_equal(saved.predict(extra), saved.predict(frame), check_exact=True)
    reordered = frame[["temperature", "value", "timestamp", "series_id"]]
    pd.testing.assert_frame_equal(saved.predict(reordered), saved.predict(frame), check_exact=True)


def test_a_speech_run_transcribes_without_its_data(tmp_path, monkeypatch, request, capsys):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    write_tones(tmp_path / "data", ["up", "no"] * 6, seed=0)
    config = tmp_path / "speech.toml"
    config.write_text(SPEECH_CONFIG.format(out=tmp_path / "run", data=tmp_path / "data", iterations=4,
                                           bidirectional="false"))
    rnnkit.run(rnnkit.load_config(config, ["--train.batch_size=4", "--task.lm_order=2", "--task.lexicon=true"]))
    files = write_tones(tmp_path / "new", ["no", "up no", "up"], seed=7)
    saved = rnnkit.load(tmp_path / "run")
    before = [saved.predict(files), saved.predict(files, beam=2, timestamps=True)]
    before_log_probs = saved.predictor.log_probs(files[1])
    for path in (tmp_path / "data").iterdir():
        path.unlink()
    request.getfixturevalue("without_data")
    saved = rnnkit.load(tmp_path / "run", tasks=("speech",), command="transcribe")
    assert not saved.model.training and "meta_json" not in dict(saved.model.named_buffers())
    assert saved.predict(files) == before[0] and len(before[0]) == 3
    assert saved.predict(files, beam=2, timestamps=True) == before[1]
    assert all(isinstance(text, str) and isinstance(words, list) for text, words in before[1])
    assert (saved.predictor.log_probs(files[1]) == before_log_probs).all()
    meta = saved.meta
    assert meta["characters"] == " abcdefghijklmnopqrstuvwxyz'" and meta["num_features"] == 20
    assert len(meta["mean"]) == 20 and meta["features"]["hop_ms"] == 20.0 and meta["train_texts"]
    capsys.readouterr()
    assert main(["transcribe", str(tmp_path / "run"), *map(str, files), "--beam=2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"{f}\t{text}" for f, (text, _) in zip(files, before[1])]
    with pytest.raises(TypeError, match="wrap a single one in a list"):
        saved.predict(str(files[0]))
