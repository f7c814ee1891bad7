"""`rnnkit serve` on tiny forecasting, speech, translation and sequence-classification runs: each
endpoint gives what `saved.predict` gives for the same input, and refuses what it cannot read (a
series with a gap, audio that is too long or not audio at all) with a 4xx that says what to fix."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import rnnkit
import rnnkit.serve
from conftest import write_ramps
from rnnkit.forecast.synthetic import synthetic_panel
from rnnkit.serve import Limits
from test_serve import refused, train
from test_speech_task import CONFIG as SPEECH_CONFIG
from test_speech_task import write_tones

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402  (after the skip: the serve extra may be absent)

FORECAST = ["--task.input_size=12", "--task.horizon=6", "--model.hidden_size=8", "--train.iterations=3",
            "--train.epochs=0", "--train.eval_every_epochs=0", "--train.batch_size=16", "--task.select=network"]


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    """(run directory, its history table)."""
    root = tmp_path_factory.mktemp("serve_forecast")
    table = synthetic_panel(series=3, length=60, seed=2)
    table.to_csv(root / "series.csv", index=False)
    return train(root / "run", "configs/forecast_lstm.toml", f"--task.data={root / 'series.csv'}", *FORECAST), table


def as_records(table: pd.DataFrame) -> list[dict]:
    """The rows as JSON objects, values exact (DataFrame.to_json would keep 10 digits) and times in ISO 8601."""
    return [{"series_id": r.series_id, "timestamp": r.timestamp.isoformat(), "value": float(r.value)}
            for r in table.itertuples()]


def test_forecast_from_records_or_a_csv_is_the_predictors(forecast_run):
    run_dir, table = forecast_run
    client = TestClient(rnnkit.serve.app(run_dir))
    meta = client.get("/metadata").json()
    assert meta["task"] == "forecasting" and meta["horizon"] == 6 and meta["level"] == 0.8 and meta["freq"] == "MS"
    assert meta["columns"] == {"id": "series_id", "time": "timestamp", "value": "value"}
    expected = rnnkit.load(run_dir).predict(table)
    records = as_records(table)
    reply = client.post("/forecast", json={"records": records, "history": True})
    assert reply.status_code == 200
    body = reply.json()
    got = pd.DataFrame(body["forecast"])
    assert list(got.columns) == ["series_id", "timestamp", "forecast", "lower_80", "upper_80"] and len(got) == 18
    pd.testing.assert_frame_equal(got.drop(columns="timestamp"), expected.drop(columns="timestamp"), check_exact=True)
    assert (pd.to_datetime(got.timestamp) == expected.timestamp).all()
    assert [h["series_id"] for h in body["history"]] == ["s0", "s1", "s2"] and len(body["history"][0]["value"]) == 60
    csv = run_dir.parent / "mine.csv"                  # a CSV upload reads as saved.predict reads the file
    table.to_csv(csv, index=False)
    upload = client.post("/forecast", files={"file": ("history.csv", csv.read_bytes())})
    assert upload.status_code == 200 and "history" not in upload.json()
    pd.testing.assert_frame_equal(pd.DataFrame(upload.json()["forecast"]).drop(columns="timestamp"),
                                  rnnkit.load(run_dir).predict(csv).drop(columns="timestamp"), check_exact=True)


def test_forecast_refuses_gaps_long_series_and_unreadable_files(forecast_run):
    run_dir, table = forecast_run
    client = TestClient(rnnkit.serve.app(run_dir, Limits(max_series_length=50)))
    gap = as_records(table.head(50))
    gap[7]["value"] = None
    refused(client.post("/forecast", json={"records": gap}), 422, "series 's0' has a missing value", "row 7",
            "fill or drop")
    records = as_records(table)
    refused(client.post("/forecast", json={"records": records}), 422, "60 points", "at most 50")
    refused(client.post("/forecast", json={"records": [1, 2]}), 422, "records[0] must be an object")
    refused(client.post("/forecast", files={"file": ("h.csv", b"a,b\n1,2\n")}), 422, "no column 'timestamp'")
    refused(client.post("/forecast", files={"other": ("h.csv", b"a,b\n")}), 422, "no file field 'file'")
    small = as_records(table.head(40))
    assert client.post("/forecast", json={"records": small}).status_code == 200        # and it goes on


@pytest.fixture(scope="module")
def speech_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve_speech")
    write_tones(root / "data", ["up", "no"] * 6, seed=0)
    config = root / "speech.toml"
    config.write_text(SPEECH_CONFIG.format(out=root / "run", data=root / "data", iterations=4, bidirectional="false"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RNNKIT_CACHE", str(root / "cache"))
        rnnkit.run(rnnkit.load_config(config, ["--train.batch_size=4", "--train.baselines=false"]))
    return root / "run", write_tones(root / "new", ["no", "up no"], seed=7)


def two_hours_of_silence() -> bytes:
    """A 2-hour FLAC: silence compresses to 180 kB, well inside the body limit, so the length check is what
    refuses it."""
    import soundfile

    out = io.BytesIO()
    with soundfile.SoundFile(out, "w", samplerate=8000, channels=1, format="FLAC", subtype="PCM_16") as f:
        minute = np.zeros(8000 * 60, dtype=np.int16)
        for _ in range(120):
            f.write(minute)
    return out.getvalue()


def test_transcribe_an_upload_and_refuse_what_is_not_short_audio(speech_run):
    run_dir, files = speech_run
    client = TestClient(rnnkit.serve.app(run_dir))
    meta = client.get("/metadata").json()
    assert meta["task"] == "speech" and meta["reads"] == "audio" and meta["sample_rate"] == 16000
    saved = rnnkit.load(run_dir)
    for path in files:
        reply = client.post("/transcribe", files={"file": (path.name, path.read_bytes())}, data={"beam": "2"})
        assert reply.status_code == 200
        [(text, words)] = saved.predict([path], beam=2, timestamps=True)
        assert reply.json() == {"text": text, "words": [{"word": w, "start": s, "end": e} for w, s, e in words],
                                "seconds": pytest.approx(reply.json()["seconds"])}
        assert 0.3 < reply.json()["seconds"] < 2
    body = refused(client.post("/transcribe", files={"file": ("long.flac", two_hours_of_silence())}), 422,
                   "2:00:00 long", "at most 300 s", "trim")
    assert "long.flac" in body["error"]
    body = refused(client.post("/transcribe", files={"file": ("notes.wav", b"this is not audio")}), 415,
                   "not audio", "WAV, FLAC")
    assert "/tmp" not in body["error"]                                   # no server paths
    refused(client.post("/transcribe", json={"file": "a.wav"}), 415, "multipart/form-data", "curl -F file=@")
    refused(client.post("/transcribe", files={"file": ("a.wav", files[0].read_bytes())}, data={"beam": "-1"}), 422,
            "'beam' must be from 0")
    assert client.post("/transcribe", files={"file": ("a.wav", files[0].read_bytes())}).status_code == 200


def test_translate_is_the_predictors(tmp_path):
    pairs = [f"{w} {v}\t{v} {w}" for w in "abcd" for v in ("xy", "zw", "uv")]
    (tmp_path / "pairs.tsv").write_text("\n".join(pairs * 3) + "\n", encoding="utf-8")
    run_dir = train(tmp_path / "run", "configs/translate_dates.toml", f"--task.path={tmp_path / 'pairs.tsv'}",
                    "--task.level=char", "--task.embedding_size=8", "--task.bucket_size=4", "--task.eval_sentences=4",
                    "--task.valid_fraction=0.2", "--task.test_fraction=0.2", "--model.hidden_size=8",
                    "--train.epochs=0", "--train.iterations=3")
    client = TestClient(rnnkit.serve.app(run_dir))
    saved = rnnkit.load(run_dir)
    sentences = ["a xy", "b zw", "d uv c"]
    for beam in (1, 3):
        reply = client.post("/translate", json={"sentences": sentences, "beam": beam, "max_length": 6})
        assert reply.status_code == 200
        assert reply.json() == {"translations": saved.predict(sentences, beam=beam, max_length=6)}
    assert client.get("/metadata").json()["level"] == "char"
    refused(client.post("/translate", json={"sentences": ["a xy", ""]}), 422, "sentences[1] is empty")
    refused(client.post("/translate", json={"sentences": ["a"], "beam": 0}), 422, "'beam' must be from 1")


def test_sequence_classification_reads_rows_of_numbers(tmp_path):
    write_ramps(tmp_path / "data", count=8, steps=(6, 14))
    run_dir = train(tmp_path / "run", "configs/classify_japanese_vowels.toml", f"--task.path={tmp_path / 'data'}",
                    "--task.pooling=attention", "--task.valid_fraction=0.2", "--task.test_fraction=0.2",
                    "--model.hidden_size=8", "--train.epochs=0", "--train.iterations=3", "--train.batch_size=4")
    client = TestClient(rnnkit.serve.app(run_dir))
    meta = client.get("/metadata").json()
    assert meta["reads"] == "sequences" and meta["num_features"] == 2 and meta["attention"] is True
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(9, 2)).round(4).tolist(), rng.normal(size=(4, 2)).round(4).tolist()]
    reply = client.post("/classify", json={"sequences": sequences})
    assert reply.status_code == 200
    expected = rnnkit.load(run_dir).predict([np.asarray(s, dtype=np.float32) for s in sequences])
    for got, p in zip(reply.json()["predictions"], expected, strict=True):
        assert got["label"] == p.label and got["probabilities"] == pytest.approx(p.probabilities, abs=1e-6)
        assert got["attention"] == pytest.approx(p.attention, abs=1e-6) and len(got["attention"]) == len(p.attention)
    refused(client.post("/classify", json={"sequences": [[[1.0, 2.0, 3.0]]]}), 422, "shape [1, 3]", "[steps, 2]")
    refused(client.post("/classify", json={"sequences": [[[1.0, 2.0], [1.0]]]}), 422, "not a table of numbers")
    refused(client.post("/classify", content=b'{"sequences": [[[1.0, NaN]]]}'), 422, "missing or infinite value")
    refused(client.post("/classify", json={"texts": ["a"]}), 422, "unknown field 'texts'")
