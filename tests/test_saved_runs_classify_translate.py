"""Classification and translation runs are contracts: the run directory alone (config.toml,
meta.json, model.safetensors) gives back the model and its predictor, with every task's data
loader refusing (the `without_data` fixture) and the data files deleted; the commands of these
tasks work on such a run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from conftest import write_ramps
from rnnkit.cli import main
from rnnkit.models.esn import EchoStateClassifier
from rnnkit.tasks.classification import Prediction
from rnnkit.train.checkpoint import META_FILE, WEIGHTS_FILE

FIXTURE = Path(__file__).parent / "data" / "uci_sentences.csv"
TEXTS = ["the food was great", "terrible, never again", "zzz unseen words qqq", "great great great food"]


def train(tmp_path: Path, config: str, *overrides: str) -> Path:
    cfg = rnnkit.load_config(config, ["--train.eval_every=0", "--train.plots=false", *overrides,
                                      f"--out_dir={tmp_path / 'run'}"])
    rnnkit.run(cfg)
    return tmp_path / "run"


def weight_names(run_dir: Path) -> set[str]:
    from safetensors import safe_open

    with safe_open(str(run_dir / WEIGHTS_FILE), framework="pt") as f:
        return set(f.keys())


def sequences() -> list:
    """Inputs of the kinds a user has: tensors and numpy arrays of different lengths."""
    g = torch.Generator().manual_seed(5)
    return [torch.randn(9, 2, generator=g), torch.randn(4, 2, generator=g).numpy(), torch.randn(13, 2, generator=g)]


def check_predictions(predictions: list[Prediction], classes: list[str], *, attention: bool) -> None:
    for p in predictions:
        assert isinstance(p, Prediction) and list(p.probabilities) == classes
        assert p.label == max(p.probabilities, key=p.probabilities.get)
        assert sum(p.probabilities.values()) == pytest.approx(1, abs=1e-5)
        assert (p.attention is not None) == attention
        if attention:
            assert sum(p.attention) == pytest.approx(1, abs=1e-5)


def same_prediction(a: Prediction, b: Prediction) -> bool:
    """Equal up to float rounding: a batch of another size may take another CPU kernel (oneDNN),
    whose sums round differently in the last bits."""
    return (a.label == b.label and a.tokens == b.tokens and a.probabilities == pytest.approx(b.probabilities, abs=1e-6)
            and (a.attention is None) == (b.attention is None)
            and (a.attention is None or a.attention == pytest.approx(b.attention, abs=1e-6)))


def test_text_classifier_loads_and_predicts_without_its_data(tmp_path, request, capsys):
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    data = tmp_path / "small.csv"
    data.write_text("\n".join(lines[:41] + lines[-40:]) + "\n", encoding="utf-8")
    run_dir = train(tmp_path, "configs/classify_uci_bigru.toml", f"--task.path={data}", "--task.embedding_size=8",
                    "--task.class_weights=balanced", "--model.hidden_size=8", "--train.epochs=0",
                    "--train.iterations=3", "--train.batch_size=8")
    before = rnnkit.load(run_dir).predict(TEXTS)
    capsys.readouterr()
    assert main(["classify", "eval", str(run_dir), "--split=valid"]) == 0    # the task's own evaluation
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert printed == {"split": "valid", **rnnkit.runs.evaluate_run(run_dir, "valid")}
    data.unlink()
    request.getfixturevalue("without_data")
    saved = rnnkit.load(run_dir)
    after = saved.predict(TEXTS)
    assert after == before
    check_predictions(after, ["0", "1"], attention=True)
    assert after[0].tokens == ["the", "food", "was", "great", "<eos>"] and len(after[0].attention) == 5
    assert len(saved.meta["class_weights"]) == 2 and saved.meta == json.loads((run_dir / META_FILE).read_text())["meta"]
    torch.testing.assert_close(saved.model.class_weight, torch.tensor(saved.meta["class_weights"]))
    assert not {"meta_json", "class_weight"} & weight_names(run_dir)       # the weights hold weights only
    capsys.readouterr()
    assert main(["classify", "predict", str(run_dir), TEXTS[0], "--attention"]) == 0
    label, probability, _ = capsys.readouterr().out.splitlines()[0].split("\t", 2)
    assert label == before[0].label and float(probability) == pytest.approx(before[0].probabilities[label], abs=1e-3)


def test_sequence_classifier_loads_and_predicts_without_its_data(tmp_path, request, capsys):
    write_ramps(tmp_path / "data", count=8, steps=(6, 14))
    run_dir = train(tmp_path, "configs/classify_japanese_vowels.toml", f"--task.path={tmp_path / 'data'}",
                    "--task.pooling=attention", "--task.valid_fraction=0.2", "--task.test_fraction=0.2",
                    "--model.hidden_size=8", "--train.epochs=0", "--train.iterations=3", "--train.batch_size=4")
    inputs = sequences()
    before = rnnkit.load(run_dir).predict(inputs)
    shutil.rmtree(tmp_path / "data")
    request.getfixturevalue("without_data")
    saved = rnnkit.load(run_dir)
    after = saved.predict(inputs)
    assert after == before
    check_predictions(after, ["east", "northwest", "southwest"], attention=True)
    assert [len(p.attention) for p in after] == [9, 4, 13] and after[0].tokens is None
    assert all(same_prediction(p, before[0]) for p in saved.predict(torch.stack([torch.as_tensor(inputs[0])] * 2)))
    with pytest.raises(ValueError, match="sequence 0: 3 features, but the model was trained on 2"):
        saved.predict([torch.zeros(5, 3)])
    np.save(tmp_path / "many.npy", np.stack([np.asarray(inputs[2])[:9], np.asarray(inputs[0])]))
    capsys.readouterr()
    assert main(["classify", "predict", str(run_dir), str(tmp_path / "many.npy")]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    expected = saved.predict([np.asarray(inputs[2])[:9], inputs[0]])
    assert [row[0] for row in rows] == [p.label for p in expected] and rows[1][3] == "many.npy[1]"
    assert same_prediction(expected[1], before[0])


def test_echo_state_classifier_loads_and_predicts_without_its_data(tmp_path, request, capsys):
    write_ramps(tmp_path / "data", count=8, steps=(6, 14))
    run_dir = train(tmp_path, "configs/esn_japanese_vowels.toml", f"--task.path={tmp_path / 'data'}",
                    "--task.valid_fraction=0.2", "--model.hidden_size=30", "--train.batch_size=8")
    inputs = sequences()
    before = rnnkit.load(run_dir).predict(inputs)
    one = tmp_path / "one.csv"
    one.write_text("a,b\n" + "\n".join(f"{x:.5f},{y:.5f}" for x, y in np.asarray(inputs[1]).tolist()) + "\n")
    shutil.rmtree(tmp_path / "data")
    request.getfixturevalue("without_data")
    saved = rnnkit.load(run_dir)
    assert isinstance(saved.model, EchoStateClassifier)
    after = saved.predict(inputs)
    assert after == before
    check_predictions(after, ["east", "northwest", "southwest"], attention=False)
    capsys.readouterr()
    assert main(["classify", "predict", str(run_dir), str(one)]) == 0
    label, probability, _, name = capsys.readouterr().out.strip().split("\t")
    assert name == "one.csv" and label == before[1].label
    assert float(probability) == pytest.approx(before[1].probabilities[label], abs=2e-3)   # the CSV keeps 5 digits


def test_translator_loads_and_translates_without_its_data(tmp_path, request, capsys):
    pairs = [f"{w} {v}\t{v} {w}" for w in "abcd" for v in ("xy", "zw", "uv")]
    data = tmp_path / "pairs.tsv"
    data.write_text("\n".join(pairs * 3) + "\n", encoding="utf-8")
    run_dir = train(tmp_path, "configs/translate_dates.toml", f"--task.path={data}", "--task.level=char",
                    "--task.embedding_size=8", "--task.bucket_size=4", "--task.eval_sentences=4",
                    "--task.valid_fraction=0.2", "--task.test_fraction=0.2", "--model.hidden_size=8",
                    "--train.epochs=0", "--train.iterations=3")
    sentences = ["a xy", "", "b zw", "d uv c"]
    before = {beam: rnnkit.load(run_dir).predict(sentences, beam=beam, max_length=6) for beam in (1, 3)}
    data.unlink()
    request.getfixturevalue("without_data")
    saved = rnnkit.load(run_dir)
    for beam, outputs in before.items():
        assert saved.predict(sentences, beam=beam, max_length=6) == outputs
        assert len(outputs) == 4 and outputs[1] == "" and all(isinstance(o, str) for o in outputs)
    assert "meta_json" not in weight_names(run_dir) and set(saved.meta) == {"source_vocab", "target_vocab"}
    capsys.readouterr()
    assert main(["translate", str(run_dir), "b zw", "--beam=3", "--max-length=6"]) == 0
    assert capsys.readouterr().out == before[3][2] + "\n"
    png = tmp_path / "map.png"
    assert main(["translate", str(run_dir), "a xy", "--target=xy a", f"--heatmap={png}"]) == 0
    assert png.stat().st_size > 0
    sources, targets, weights = saved.predictor.attention("a xy", "xy a")
    assert weights.shape == (len(targets), len(sources)) == (5, 4)


def test_embeddings_from_a_language_model_start_a_new_run_only(tmp_path, request, capsys):
    from rnnkit.data.labelled import normalize_text, read_text_csv
    from rnnkit.tasks.classification.pretrained import language_model_embeddings

    texts, labels = read_text_csv(FIXTURE)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(normalize_text(t) for t in texts[:200]) + "\n", encoding="utf-8")
    lm_dir = train(tmp_path / "lm", None, "--task.name=language_modeling", f"--task.path={corpus}",
                   "--task.level=word", "--task.batch_size=4", "--task.eval_batch_size=2", "--model.hidden_size=8",
                   "--train.iterations=1", "--train.bptt=5")
    data = tmp_path / "small.csv"
    data.write_text("text,label\n" + "".join(f'"{t}",{y}\n' for t, y in zip(texts[:40] + texts[-40:],
                                                                           labels[:40] + labels[-40:])))
    capsys.readouterr()
    run_dir = train(tmp_path, "configs/classify_uci_bigru.toml", f"--task.path={data}", "--task.embedding_size=8",
                    f"--task.init_embedding={lm_dir}", "--model.hidden_size=8", "--train.epochs=0",
                    "--train.iterations=1", "--train.batch_size=8")
    assert " embeddings start from " in capsys.readouterr().out
    saved = rnnkit.load(run_dir)                             # loading reads nothing of the language model run
    fresh = saved.task.build_model(saved.cfg.model, saved.meta)
    saved.task.warm_start(fresh, saved.meta, None)
    lm_tokens, lm_weight = language_model_embeddings(lm_dir)
    ours = saved.meta["vocab"]["tokens"]
    shared = [t for t in ours if t in lm_tokens]
    assert len(shared) > 100
    torch.testing.assert_close(fresh.embedding.weight[[ours.index(t) for t in shared]],
                               lm_weight[[lm_tokens.index(t) for t in shared]])
    before = saved.predict(TEXTS)
    shutil.rmtree(lm_dir)
    data.unlink()
    request.getfixturevalue("without_data")
    assert rnnkit.load(run_dir).predict(TEXTS) == before
