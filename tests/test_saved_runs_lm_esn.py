"""The saved run is a contract, for language models (word and char level) and echo state networks:
the run directory alone gives the same generated text and the same closed-loop series as the model
built from the training data, with the data unavailable; `rnnkit generate` and `rnnkit similar`
work on it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import rnnkit
from rnnkit.cli import main
from rnnkit.tasks import build_task
from rnnkit.train.checkpoint import load_weights

TEXT = "to be or not to be that is the question\nwhether tis nobler in the mind to suffer\n" * 3
TINY_LM = ["--task.batch_size=4", "--task.eval_batch_size=2", "--task.eval_bptt=20", "--model.hidden_size=8",
           "--train.epochs=0", "--train.iterations=4", "--train.bptt=5", "--train.eval_every=0",
           "--train.plots=false"]
LEVELS = {"word": ("configs/lm_ptb_small.toml", "--task.level=word"),
          "char": ("configs/shakespeare_char.toml", "--task.level=char", "--task.embedding_size=8")}
PROMPTS = ["to be", "whether tis"]
OPTIONS = [dict(greedy=True), dict(seed=3, temperature=0.9, top_k=5), dict(beams=2)]


def from_data(run_dir: Path):
    """The predictor of the trained weights over a model and metadata built from the data itself."""
    saved = rnnkit.load(run_dir)
    data = saved.task.load()
    meta = saved.task.describe(data)
    model = load_weights(saved.task.build_model(saved.cfg.model, meta), run_dir).eval()
    return saved.task.predictor(model, meta), data


@pytest.fixture(scope="module", params=sorted(LEVELS))
def lm_run(request, tmp_path_factory):
    """(run directory, corpus file, level, predictions before, the data's vocabulary)."""
    tmp = tmp_path_factory.mktemp(f"lm_{request.param}")
    corpus = tmp / "corpus.txt"
    corpus.write_text(TEXT * 30)
    config, *settings = LEVELS[request.param]
    rnnkit.run(rnnkit.load_config(config, [f"--task.path={corpus}", *settings, *TINY_LM, f"--out_dir={tmp / 'run'}"]))
    predictor, data = from_data(tmp / "run")
    before = [predictor.predict(PROMPTS, tokens=12, **options) for options in OPTIONS]
    return tmp / "run", corpus, request.param, before, data.vocab


def test_language_model_generates_the_same_text_without_its_corpus(lm_run, without_data):
    run_dir, corpus, level, before, vocab = lm_run
    corpus.unlink(missing_ok=True)
    saved = rnnkit.load(run_dir)
    assert saved.predictor.vocab == vocab and saved.predictor.vocab.level == level
    assert [saved.predict(PROMPTS, tokens=12, **options) for options in OPTIONS] == before
    greedy = before[0]
    assert isinstance(greedy, list) and len(greedy) == 2 and all(greedy)
    assert saved.predict("to be", tokens=12, greedy=True) == greedy[0]     # one prompt: one string
    with safe_open(str(run_dir / "model.safetensors"), framework="pt") as f:
        assert not [k for k in f.keys() if "json" in k]                  # the weights hold weights only


def test_generate_and_similar_commands_on_the_loaded_run(lm_run, without_data, tmp_path, capsys):
    run_dir, corpus, level, before, _ = lm_run
    corpus.unlink(missing_ok=True)
    assert main(["generate", str(run_dir), "--prompt=to be", "--tokens=12", "--greedy"]) == 0
    assert capsys.readouterr().out == "to be" + before[0][0] + "\n"
    word = "question" if level == "word" else "q"
    assert main(["similar", str(run_dir), word, "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    nearest = rnnkit.load(run_dir).predictor.nearest(word, k=3)
    assert lines == [f"{score:7.4f}  {token}" for token, score in nearest] and len(lines) == 3
    assert main(["similar", str(run_dir), "--plot", str(tmp_path / "pca.png"), "--count=20"]) == 0
    assert (tmp_path / "pca.png").stat().st_size > 1000
    assert main(["similar", str(run_dir), "xyzzy"]) == 2
    assert "not in the vocabulary" in capsys.readouterr().err


SERIES = ["--task.train_steps=600", "--task.valid_steps=300", "--task.test_steps=300", "--task.washout=50",
          "--task.horizon=20", "--model.hidden_size=30", "--train.plots=false"]


@pytest.fixture(scope="module")
def esn_run(tmp_path_factory):
    """(run directory, a fresh series (T,), closed-loop predictions before)."""
    tmp = tmp_path_factory.mktemp("esn")
    rnnkit.run(rnnkit.load_config("configs/esn_mackey_glass.toml", [*SERIES, f"--out_dir={tmp / 'run'}"]))
    predictor, _ = from_data(tmp / "run")
    fresh = build_task(rnnkit.load(tmp / "run").cfg.task).draw(200, seed=5)
    series = torch.cat([fresh.inputs[0, :1, 0], fresh.targets[0, :, 0]])                   # (201,)
    before = [predictor.predict(series, steps=40, warmup=100), predictor.predict(series[:150], steps=10)]
    return tmp / "run", series, before


def test_echo_state_network_runs_the_same_closed_loop_without_its_data(esn_run, without_data):
    run_dir, series, before = esn_run
    saved = rnnkit.load(run_dir)
    after = saved.predict(series, steps=40, warmup=100)
    torch.testing.assert_close(after, before[0], rtol=0, atol=0)
    torch.testing.assert_close(saved.predict(series[:150], steps=10), before[1], rtol=0, atol=0)
    assert after.shape == (40,) and after.dtype == torch.float64
    assert float((after[:5] - series[101:106]).abs().max()) < 0.1         # it learned the series
    as_column = saved.predict(series[:, None].numpy(), steps=40, warmup=100)         # (T, 1) numpy
    torch.testing.assert_close(as_column, before[0], rtol=0, atol=0)
    with pytest.raises(ValueError, match="at least 202 values, got 201"):
        saved.predict(series, steps=5, warmup=201)


def test_generate_command_on_the_loaded_esn_run(esn_run, without_data, capsys):
    run_dir, _, _ = esn_run
    assert main(["generate", str(run_dir), "--steps=30", "--warmup=50", "--seed=3"]) == 0
    out, err = capsys.readouterr()
    rows = [line.split(",") for line in out.strip().splitlines()[1:]]
    saved = rnnkit.load(run_dir)
    fresh = saved.task.draw(80, 3)
    series = torch.cat([fresh.inputs[0, :1, 0], fresh.targets[0, :, 0]])
    expected = saved.predict(series, steps=30, warmup=50)
    assert [float(p) for _, p, _ in rows] == expected.tolist()
    assert [float(t) for _, _, t in rows] == series[51:81].tolist()
    assert "data seed 3" in err and (run_dir / "generated-seed3.png").is_file()
