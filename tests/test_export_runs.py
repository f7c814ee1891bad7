"""`rnnkit export RUN` on trained runs: the file and its JSON, the graph on the run's own
pre-processing gives the saved model's outputs, and what cannot be exported is one line, exit 2,
nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.data.labelled import encode_texts, normalize_text
from rnnkit.data.text import Vocab
from rnnkit.export import run_file
from rnnkit.forecast.synthetic import synthetic_panel
from test_speech_task import CONFIG as SPEECH_CONFIG
from test_speech_task import write_tones

pytest.importorskip("onnxruntime")

FIXTURE = Path(__file__).parent / "data" / "uci_sentences.csv"
TEXT = "to be or not to be that is the question\nwhether tis nobler in the mind to suffer\n" * 90
QUIET = ["--train.eval_every=0", "--train.plots=false", "--train.baselines=false"]
FORECAST_TINY = ["--task.input_size=12", "--task.horizon=6", "--model.hidden_size=8", "--train.iterations=3",
                 "--train.epochs=0", "--train.eval_every=0", "--train.eval_every_epochs=0", "--train.plots=false"]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("lm")
    (tmp / "corpus.txt").write_text(TEXT)
    rnnkit.run(rnnkit.load_config("configs/shakespeare_char.toml", [
        f"--task.path={tmp / 'corpus.txt'}", "--task.embedding_size=8", "--task.batch_size=4",
        "--task.eval_batch_size=2", "--task.eval_bptt=20", "--model.hidden_size=8", "--train.epochs=0",
        "--train.iterations=3", "--train.bptt=5", *QUIET, f"--out_dir={tmp / 'run'}"]))
    return tmp / "run"


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("text")
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    (tmp / "small.csv").write_text("\n".join(lines[:41] + lines[-40:]) + "\n", encoding="utf-8")
    rnnkit.run(rnnkit.load_config("configs/classify_uci_bigru.toml", [
        f"--task.path={tmp / 'small.csv'}", "--task.embedding_size=8", "--model.hidden_size=8",
        "--train.epochs=0", "--train.iterations=2", "--train.batch_size=8", *QUIET, f"--out_dir={tmp / 'run'}"]))
    return tmp / "run"


@pytest.mark.parametrize("kind", ["onnx", "torchscript"])
def test_language_model_run_exports_streaming_and_continues_a_prompt_like_the_run(lm_run, kind, tmp_path, capsys):
    out = tmp_path / f"lm.{kind}"
    assert main(["export", str(lm_run), f"--format={kind}", "--streaming", f"--out={out}"]) == 0
    assert "wrote" in capsys.readouterr().out
    info = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert info["task"] == "language_modeling" and info["streaming"] and info["kind"] == kind
    graph = info["graphs"]["model"]
    assert graph["file"] == out.name and [p["name"] for p in graph["inputs"]][:2] == ["tokens", "lengths"]
    assert [s["name"] for s in graph["state"]] == ["layer0.h", "layer0.c", "layer1.h", "layer1.c"]
    assert graph["max_abs_difference"] <= 1e-5
    vocab = Vocab.from_dict(info["meta"]["vocab"])            # the JSON alone is enough to encode a prompt
    ids = vocab.encode("to be or not")[None]                  # (1, T)
    names = [p["name"] for p in graph["inputs"]]
    state = [torch.zeros(1, s["size"]) for s in graph["state"]]
    logits = []
    for t in range(ids.size(1)):                              # one token a call, the state kept by the caller
        got = run_file(out, kind, (ids[:, t:t + 1], torch.tensor([1]), *state), names)
        logits.append(got[0])
        state = [torch.from_numpy(s) for s in got[1:]]
    with torch.no_grad():
        want, _ = rnnkit.load(lm_run).model(ids)
    assert np.abs(np.concatenate(logits, 1) - want.numpy()).max() <= 1e-5


def test_text_classifier_run_exports_and_classifies_like_the_run(text_run, tmp_path, capsys):
    assert main(["export", str(text_run)]) == 0
    assert ("note: the graph is the network alone" in capsys.readouterr().out) == ("selection" in rnnkit.load(
        text_run).meta)
    path = text_run / "export" / "model.onnx"
    info = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert info["meta"]["classes"] and not info["streaming"]
    texts = ["the food was great", "terrible, never again", "zzz unseen words qqq"]
    saved = rnnkit.load(text_run)
    vocab = Vocab.from_dict(info["meta"]["vocab"])
    ids = encode_texts([normalize_text(t) for t in texts], vocab, 0)
    lengths = torch.tensor([len(i) for i in ids])
    tokens = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True)
    logits = run_file(path, "onnx", (tokens, lengths), ["tokens", "lengths"])[0]
    probabilities = torch.softmax(torch.from_numpy(logits), -1)
    # the graph is the network alone, whatever the run's validated selection chose (noted on stdout)
    network = saved.task.predictor(saved.model, saved.meta)
    for p, prediction in zip(probabilities, network.predict(texts)):
        assert info["meta"]["classes"][int(p.argmax())] == prediction.label
        assert abs(float(p.max()) - max(prediction.probabilities.values())) <= 1e-5


def test_an_attention_run_refuses_a_streaming_export_in_one_line(text_run, capsys):
    before = sorted(p.name for p in text_run.rglob("*"))
    assert main(["export", str(text_run), "--streaming", "--out", str(text_run / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "reads the whole sequence" in err and "without --streaming" in err
    assert sorted(p.name for p in text_run.rglob("*")) == before


def exported(run_dir: Path, *flags: str) -> dict:
    assert main(["export", str(run_dir), *flags]) == 0
    name = "model.streaming.json" if "--streaming" in flags else "model.json"
    info = json.loads((run_dir / "export" / name).read_text(encoding="utf-8"))
    assert all(g["max_abs_difference"] <= 1e-5 for g in info["graphs"].values()) and info["usage"]
    return info


@pytest.mark.parametrize("forecaster", ["direct", "seq2seq", "autoregressive"])
def test_forecasting_runs_export_with_their_interval_level(forecaster, tmp_path):
    data = tmp_path / "series.csv"
    synthetic_panel(series=3, length=60, seed=2).to_csv(data, index=False)
    rnnkit.run(rnnkit.load_config("configs/forecast_lstm.toml", [
        f"--task.data={data}", f"--out_dir={tmp_path / 'run'}", f"--task.forecaster={forecaster}",
        *FORECAST_TINY]))
    info = exported(tmp_path / "run")
    outputs = [p["name"] for p in info["graphs"]["model"]["outputs"]]
    assert outputs[:4] == ["params", "point", "lower", "upper"] and "selection" in info["usage"]


def test_an_esrnn_run_exports(tmp_path):
    data = tmp_path / "series.csv"
    synthetic_panel(series=3, length=60, seed=2).to_csv(data, index=False)
    rnnkit.run(rnnkit.load_config("configs/forecast_esrnn.toml", [
        f"--task.data={data}", f"--out_dir={tmp_path / 'run'}", "--train.batch_size=3",
        "--task.season_init=decompose", *FORECAST_TINY]))
    info = exported(tmp_path / "run")
    assert [p["name"] for p in info["graphs"]["model"]["inputs"]] == ["values", "series", "lengths"]
    assert info["meta"]["series_ids"] == ["s0", "s1", "s2"]


def test_echo_state_and_speech_runs_export(tmp_path, monkeypatch):
    rnnkit.run(rnnkit.load_config("configs/esn_mackey_glass.toml", [
        "--task.train_steps=300", "--task.valid_steps=100", "--task.test_steps=100", "--task.washout=20",
        "--task.horizon=10", "--model.hidden_size=20", "--train.plots=false", f"--out_dir={tmp_path / 'esn'}"]))
    info = exported(tmp_path / "esn", "--streaming")
    assert info["task"] == "chaotic_series" and info["streaming"]
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    write_tones(tmp_path / "data", ["up", "no"] * 6, seed=0)
    config = tmp_path / "speech.toml"
    config.write_text(SPEECH_CONFIG.format(out=tmp_path / "speech", data=tmp_path / "data", iterations=2,
                                           bidirectional="true"))
    rnnkit.run(rnnkit.load_config(config, ["--train.batch_size=4"]))
    info = exported(tmp_path / "speech")
    assert [p["name"] for p in info["graphs"]["model"]["outputs"]][:2] == ["log_probs", "output_lengths"]
