"""rnnkit classify train -> eval -> predict on a tiny slice of the UCI sentences fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.cli import main

FIXTURE = Path(__file__).parent / "data" / "uci_sentences.csv"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("classify")
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    (tmp / "small.csv").write_text("\n".join(lines[:41] + lines[-40:]) + "\n", encoding="utf-8")
    (tmp / "config.toml").write_text(f"""
seed = 1
out_dir = "{tmp / 'run'}"
[task]
name = "text_classification"
path = "{tmp / 'small.csv'}"
pooling = "attention"
embedding_size = 8
valid_fraction = 0.2
test_fraction = 0.2
[model]
cell = "gru"
hidden_size = 8
bidirectional = true
[train]
iterations = 3
batch_size = 8
plots = false
""")
    assert main(["classify", "train", str(tmp / "config.toml")]) == 0
    return tmp / "run"


def test_eval_prints_report_and_writes_confusion_png(run_dir, capsys):
    assert main(["classify", "eval", str(run_dir), "--split=test"]) == 0
    out = capsys.readouterr().out
    assert '"accuracy"' in out and '"macro_f1"' in out and "macro avg" in out
    assert (run_dir / "confusion_test.png").stat().st_size > 1000


def test_predict_round_trip_from_the_run_directory(run_dir, tmp_path, capsys):
    saved = rnnkit.load(run_dir)
    meta = saved.meta
    data = saved.task.load()
    expected = saved.predictor.probabilities(["the food was great", "terrible, never again"])
    assert expected.shape == (2, 2) and abs(float(expected.sum()) - 2) < 1e-5
    assert main(["classify", "predict", str(run_dir), "the food was great"]) == 0
    label, prob, _ = capsys.readouterr().out.split("\t", 2)
    assert label == meta["classes"][int(expected[0].argmax())] and float(prob) == pytest.approx(
        float(expected[0].max()), abs=1e-3)
    (tmp_path / "t.txt").write_text("good\n\nbad service\n")
    assert main(["classify", "predict", str(run_dir), f"--file={tmp_path / 't.txt'}"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    (tmp_path / "t.csv").write_text("text,label\nnice,1\nawful,0\n")
    assert main(["classify", "predict", str(run_dir), f"--csv={tmp_path / 't.csv'}"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    assert len(data.test) == 16


def test_predict_errors(run_dir, capsys):
    assert main(["classify", "predict", str(run_dir), "   "]) == 2
    assert "row 0: empty text" in capsys.readouterr().err
    assert main(["classify", "predict", str(run_dir)]) == 2
    assert "exactly one of" in capsys.readouterr().err


def test_predict_shows_attention_weights(run_dir, capsys):
    from rnnkit.cli.classify import format_attention

    assert main(["classify", "predict", str(run_dir), "great food", "--attention"]) == 0
    out, err = capsys.readouterr()
    line = out.strip().splitlines()[1]
    weights = [float(part.rsplit("[", 1)[1].rstrip("]")) for part in line.split()]
    assert line.startswith("great[") and abs(sum(weights) - 1) < 0.01
    assert f"wrote {run_dir / 'attention' / '1.png'}" in err and (run_dir / "attention" / "1.png").stat().st_size > 1000
    [prediction] = rnnkit.load(run_dir).predict(["great food"])
    coloured = format_attention(prediction.tokens, prediction.attention, colour=True)
    assert "\x1b[" in coloured and "great" in coloured and "food" in coloured


def test_explain_weights_sum_to_one_and_padding_gets_zero(run_dir, tmp_path, capsys):
    from rnnkit.data.labelled import encode_texts, normalize_text, pad
    from rnnkit.data.text import Vocab
    from rnnkit.plots.classify import attention_strip, attention_text

    saved = rnnkit.load(run_dir)
    model, meta = saved.model, saved.meta
    texts = ["the food was great and the service too", "bad", "not good at all"]
    ids = encode_texts([normalize_text(t) for t in texts], Vocab.from_dict(meta["vocab"]))
    x, lengths = pad(ids)
    with torch.no_grad():
        weights = model.attention(x, lengths)                                  # (3, T), padded batch
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    for row, n in zip(weights, lengths.tolist()):
        assert (row[n:] == 0).all() and (row[:n] > 0).all()
    with torch.no_grad():                                                      # padding changes nothing
        alone = model.attention(x[2:, : int(lengths[2])], lengths[2:])
    torch.testing.assert_close(weights[2, : int(lengths[2])], alone[0])
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n")
    assert main(["classify", "predict", str(run_dir), f"--file={tmp_path / 'texts.txt'}", "--explain"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 6             # label line + weights line each
    assert all((run_dir / "attention" / f"{i}.png").is_file() for i in (1, 2, 3))
    text = attention_text(["a", "b"], torch.tensor([0.25, 0.75]))
    assert text.plain.startswith("a b ") and "0.750" in text.plain
    assert attention_strip(["x"] * 40, torch.full((40,), 0.025), tmp_path / "strip.png").stat().st_size > 1000
