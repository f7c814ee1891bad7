"""Text classification's validated selection (text_select.py) and its saved n-gram model (ngrams.py):
the n-gram model reproduces scikit-learn's TF-IDF + logistic regression and its NB-weighted
1-2-grams + logistic regression (nb_logreg.py), the selection picks the
bag of n-grams when the network validates worse, and a loaded run predicts and evaluates with
what it chose."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.runs import baselines as table_module
from rnnkit.tasks.classification import baselines as text_baselines_module
from rnnkit.tasks.classification import task as task_module
from rnnkit.tasks.classification import text_select
from rnnkit.tasks.classification.baselines import fit_tfidf_logreg, text_baselines
from rnnkit.tasks.classification.nb_logreg import fit_nb_logreg
from rnnkit.tasks.classification.ngrams import NGRAMS_FILE, NgramLogReg
from rnnkit.train import CheckpointError

pytest.importorskip("sklearn")

WORDS = "good bad great awful fine poor film plot acting music the a was is very not".split()


def corpus(n: int, classes: int, seed: int) -> tuple[list[str], torch.Tensor]:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 12)))) for _ in range(n)]
    return texts, torch.from_numpy(rng.integers(0, classes, size=n))


@pytest.mark.parametrize("classes", [2, 3])
def test_ngram_model_equals_scikit_learn(classes, tmp_path):
    texts = {"train": corpus(120, classes, 0), "valid": corpus(30, classes, 1)}
    tfidf, model = fit_tfidf_logreg(texts)
    ngrams = NgramLogReg.from_sklearn(tfidf, model, classes)
    scored = corpus(40, classes, 2)[0] + ["unseen words only", "good good good bad", "film"]
    expected = model.predict_proba(tfidf.transform(scored))
    assert np.abs(ngrams.probabilities(scored) - expected).max() < 1e-10
    decision = model.decision_function(tfidf.transform(scored)).reshape(len(scored), -1)
    assert np.abs(ngrams.features(scored) @ ngrams.coef.T + ngrams.intercept - decision).max() < 1e-10
    ngrams.save(tmp_path / NGRAMS_FILE)
    again = NgramLogReg.load(tmp_path / NGRAMS_FILE)
    assert again.words == ngrams.words and np.array_equal(again.probabilities(scored), ngrams.probabilities(scored))
    # the baseline scores through scikit-learn; the saved model gives the same accuracy
    row = text_baselines({**texts, "test": (scored, torch.zeros(len(scored), dtype=torch.long))}, ["test"])["test"]
    assert row["tfidf_logreg"]["accuracy"] == pytest.approx(float((expected.argmax(1) == 0).mean()))


@pytest.mark.parametrize("classes", [2, 3])
def test_nb_model_equals_scikit_learn_on_nb_weighted_features(classes, tmp_path):
    """NBSVM's features (Wang & Manning 2012) by hand: 0/1 n-gram rows times each class's log-count
    ratio, one scikit-learn regression per class against the rest (one for two classes)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = {"train": corpus(150, classes, 0), "valid": corpus(40, classes, 1)}
    ngrams = fit_nb_logreg(texts, classes)
    assert ngrams.kind == "nb"
    x_text, y = texts["train"][0], texts["train"][1].numpy()
    counts = CountVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=False, binary=True)
    x = counts.fit_transform(x_text).toarray().astype(float)
    scored = corpus(40, classes, 2)[0] + ["unseen words only", "good good good bad", "film"]
    x_scored = counts.transform(scored).toarray().astype(float)
    # the C the model chose: the intercept of a refit at each C of the grid tells which
    targets = [1] if classes == 2 else list(range(classes))
    found = []
    for c in (0.01, 0.1, 1.0, 10.0, 100.0):
        z = []
        for k in targets:
            p = 1 + x[y == k].sum(0)
            q = 1 + x[y != k].sum(0)
            r = np.log(p / p.sum()) - np.log(q / q.sum())
            z.append(LogisticRegression(C=c, max_iter=3000).fit(x * r, y == k).decision_function(x_scored * r))
        found.append(np.stack(z, axis=1))
    decision = ngrams.features(scored) @ ngrams.coef.T + ngrams.intercept
    assert min(np.abs(decision - d).max() for d in found) < 1e-6
    sig = 1 / (1 + np.exp(-decision))
    expected = np.stack([1 - sig[:, 0], sig[:, 0]], 1) if classes == 2 else sig / sig.sum(1, keepdims=True)
    assert np.abs(ngrams.probabilities(scored) - expected).max() < 1e-12
    ngrams.save(tmp_path / NGRAMS_FILE)
    again = NgramLogReg.load(tmp_path / NGRAMS_FILE)
    assert again.kind == "nb" and np.array_equal(again.probabilities(scored), ngrams.probabilities(scored))


def test_nb_weights_single_cue_words_on_small_data():
    """A cue word seen a few times decides where TF-IDF's regression has not learnt it yet."""
    rng = np.random.default_rng(0)
    filler = "the film plot was and a cast".split()
    texts, labels = [], []
    for i in range(60):
        label = i % 2
        texts.append(" ".join(rng.choice(filler, size=8)) + (" superb" if label else " dreadful"))
        labels.append(label)
    data = {"train": (texts[:40], torch.tensor(labels[:40])), "valid": (texts[40:], torch.tensor(labels[40:]))}
    p = fit_nb_logreg(data, 2).probabilities(["the plot superb", "the plot dreadful"])
    assert p[0, 1] > 0.5 > p[1, 1]
    with pytest.raises(ValueError, match="two classes"):
        fit_nb_logreg({"train": (texts[:3], torch.zeros(3, dtype=torch.long)), "valid": data["valid"]}, 2)


def test_a_run_of_the_tfidf_days_still_predicts_what_it_chose(tmp_path):
    """Older runs pooled TF-IDF (choice "blend(network,tfidf_logreg)", an n-gram file without a kind)."""
    texts = {"train": corpus(120, 2, 0), "valid": corpus(30, 2, 1)}
    tfidf = NgramLogReg.from_sklearn(*fit_tfidf_logreg(texts), 2)
    tfidf.save(tmp_path / NGRAMS_FILE)
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file
    with safe_open(str(tmp_path / NGRAMS_FILE), framework="numpy") as f:
        metadata = {k: v for k, v in f.metadata().items() if k != "kind"}
    save_file(load_file(str(tmp_path / NGRAMS_FILE)), str(tmp_path / "old.safetensors"), metadata=metadata)
    old = NgramLogReg.load(tmp_path / "old.safetensors")
    assert old.kind == "tfidf"
    scored = corpus(20, 2, 2)[0]
    net, bag = np.full((20, 2), 0.5), old.probabilities(scored)
    assert np.allclose(text_select.combine("tfidf_logreg", net, bag), bag)
    pooled = text_select.combine("blend(network,tfidf_logreg)", net, bag, {"network": 0.0, "tfidf_logreg": 1.0})
    assert np.allclose(pooled, bag)
    with pytest.raises(ValueError, match="unknown text selection"):
        text_select.combine("svm", net, bag)


def test_a_class_the_regression_never_saw_gets_zero():
    texts = {"train": (["good", "bad", "good film"], torch.tensor([0, 2, 0])), "valid": (["good"], torch.tensor([0]))}
    ngrams = NgramLogReg.from_sklearn(*fit_tfidf_logreg(texts), 3)
    p = ngrams.probabilities(["good", "bad"])
    assert p.shape == (2, 3) and np.all(p[:, 1] == 0) and np.allclose(p.sum(1), 1)


def test_choose_takes_best_accuracy_then_loss_then_the_network():
    def m(acc, loss):
        return {"accuracy": acc, "loss": loss, "macro_f1": acc}
    worse_network = {"network": m(0.70, 0.5), "nb_logreg": m(0.80, 0.6), "blend(network,nb_logreg)": m(0.75, 0.4)}
    assert text_select.pick(worse_network) == "nb_logreg"
    tie = {"network": m(0.8, 0.5), "nb_logreg": m(0.8, 0.45), "blend(network,nb_logreg)": m(0.8, 0.45)}
    assert text_select.pick(tie) == "blend(network,nb_logreg)"
    exact = {name: m(0.8, 0.5) for name in text_select.CANDIDATES}
    assert text_select.pick(exact) == "network"
    net = np.array([[0.9, 0.1]])
    bag = np.array([[0.3, 0.7]])
    pooled = text_select.combine("blend(network,nb_logreg)", net, bag, {"network": 1.0, "nb_logreg": 2.0})
    expected = np.array([0.9 * 0.3 ** 2, 0.1 * 0.7 ** 2])                  # p^a q^b, normalised
    assert np.allclose(pooled, [expected / expected.sum()])
    with pytest.raises(ValueError, match="n-gram model"):
        text_select.combine("nb_logreg", net, None)


def test_blend_weights_follow_the_better_model_and_its_confidence():
    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.integers(0, 2, size=400))

    def model(right_share: float, sure: float) -> np.ndarray:
        right = rng.random(400) < right_share
        predicted = np.where(right, y.numpy(), 1 - y.numpy())
        p = np.full((400, 2), 1 - sure)
        p[np.arange(400), predicted] = sure
        return p

    weak_overconfident, strong = model(0.7, 0.999), model(0.9, 0.8)
    w = text_select.blend_weights(weak_overconfident, strong, y)
    assert w["nb_logreg"] > 5 * w["network"] and w["network"] < 0.3
    blended = text_select.combine("blend(network,nb_logreg)", weak_overconfident, strong, w)
    plain_mean = (weak_overconfident + strong) / 2
    accuracy = [float((p.argmax(1) == y.numpy()).mean()) for p in (blended, plain_mean, strong)]
    assert accuracy[0] >= accuracy[2] - 0.01 and accuracy[0] > accuracy[1] + 0.05
    # a weight of zero is the other model alone
    alone = text_select.combine("blend(network,nb_logreg)", weak_overconfident, strong,
                                {"network": 0.0, "nb_logreg": 1.0})
    assert np.allclose(alone, strong)


def write_data(tmp: Path) -> Path:
    """Sentiment carried by single words an n-gram model reads at once: a 1-iteration network does not."""
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for i in range(160):
        label = i % 2
        cue = rng.choice(["wonderful", "superb", "lovely"] if label else ["dreadful", "boring", "awful"])
        filler = " ".join(rng.choice(["the", "film", "plot", "was", "and", "a", "cast"], size=6))
        rows.append(f"{filler} {cue} {filler},{label}")
    (tmp / "cues.csv").write_text("\n".join(rows) + "\n")
    return tmp / "cues.csv"


def config(tmp: Path, data: Path, name: str, select: str, baselines: bool = False) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(f"""
seed = 0
out_dir = "{tmp / name}"
[task]
name = "text_classification"
path = "{data}"
embedding_size = 4
select = "{select}"
[model]
cell = "gru"
hidden_size = 4
[train]
iterations = 1
batch_size = 8
plots = false
baselines = {str(baselines).lower()}
""")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("select")
    data = write_data(tmp)
    assert main(["classify", "train", str(config(tmp, data, "chosen", "validate"))]) == 0
    assert main(["classify", "train", str(config(tmp, data, "alone", "network"))]) == 0
    return tmp / "chosen", tmp / "alone"


def test_the_selection_picks_the_n_grams_when_the_network_validates_worse(runs, capsys):
    chosen, alone = runs
    selection = json.loads((chosen / "meta.json").read_text())["meta"]["selection"]
    assert selection["valid"]["nb_logreg"]["accuracy"] == 1.0 > selection["valid"]["network"]["accuracy"]
    assert selection["choice"] != "network" and (chosen / NGRAMS_FILE).is_file()
    assert "selection" not in json.loads((alone / "meta.json").read_text())["meta"]
    assert not (alone / NGRAMS_FILE).exists()

    saved = rnnkit.load(chosen)
    data = saved.task.load()
    normal, y = data.texts["test"]
    network = saved.task.predictor(saved.model, saved.meta).normalised_probabilities(normal).double().numpy()
    bag = NgramLogReg.load(chosen / NGRAMS_FILE).probabilities(normal)
    expected = text_select.combine(selection["choice"], network, bag, selection["weights"])
    got = saved.predictor.normalised_probabilities(normal).double().numpy()
    assert np.abs(got - expected).max() < 1e-6
    accuracy = float((expected.argmax(1) == y.numpy()).mean())
    assert accuracy == pytest.approx(selection["test"][selection["choice"]]["accuracy"])
    # predict and eval follow the choice
    [p] = saved.predict(["the film was wonderful"])
    assert p.label == "1" and p.tokens is not None
    assert main(["classify", "eval", str(chosen), "--split=test"]) == 0
    out, err = capsys.readouterr()
    assert f"validated selection: {selection['choice']}" in err
    assert json.loads(out.splitlines()[0])["accuracy"] == pytest.approx(accuracy)


def test_the_end_of_run_table_takes_the_rows_the_selection_measured(tmp_path, monkeypatch):
    """The "model" and "network" rows of baselines.json are the selection's own measurements of
    the chosen candidate and of the network: the splits are not scored again."""
    scored_again: list[str] = []
    evaluate = table_module.evaluate
    monkeypatch.setattr(table_module, "evaluate", lambda *a, **k: scored_again.append("evaluate") or evaluate(*a, **k))
    fits: list[str] = []
    for module in (text_baselines_module, task_module):         # the n-gram model for the choice and the baseline
        monkeypatch.setattr(module, "fit_nb_logreg", lambda *a: fits.append("nb") or fit_nb_logreg(*a))
    monkeypatch.setattr(text_baselines_module, "fit_tfidf_logreg",
                        lambda *a: fits.append("tfidf") or fit_tfidf_logreg(*a))
    data = write_data(tmp_path)
    assert main(["classify", "train", str(config(tmp_path, data, "chosen", "validate", baselines=True))]) == 0
    selection = json.loads((tmp_path / "chosen" / "meta.json").read_text())["meta"]["selection"]
    table = json.loads((tmp_path / "chosen" / "baselines.json").read_text())
    assert selection["choice"] != "network" and scored_again == []
    for split in ("valid", "test"):
        assert table[split]["model"] == selection[split][selection["choice"]]
        assert table[split]["network"] == selection[split]["network"]
        assert {"tfidf_logreg", "nb_logreg"} <= set(table[split])
    assert sorted(fits) == ["nb", "nb", "tfidf"]              # the baselines fitted once for both splits


def test_eval_scores_what_the_run_predicts_beside_the_network(runs, capsys):
    chosen, alone = runs
    selection = json.loads((chosen / "meta.json").read_text())["meta"]["selection"]
    rows = rnnkit.runs.evaluate_run(chosen, "test", baselines=True)
    assert set(rows) == {"model", "network", "tfidf_logreg", "nb_logreg"}
    assert rows["model"]["accuracy"] == pytest.approx(selection["test"][selection["choice"]]["accuracy"])
    assert rows["network"]["accuracy"] == pytest.approx(selection["test"]["network"]["accuracy"], abs=1e-6)
    assert rows["nb_logreg"]["accuracy"] == pytest.approx(selection["test"]["nb_logreg"]["accuracy"])
    assert main(["eval", str(chosen), "--split=test"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(rows["model"]["accuracy"])
    assert set(rnnkit.runs.evaluate_run(alone, "test", baselines=True)) == {"model", "tfidf_logreg", "nb_logreg"}


def test_serve_answers_with_the_runs_choice(runs):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    import rnnkit.serve

    chosen, _ = runs
    texts = ["the film was wonderful", "a boring plot and a dreadful cast"]
    expected = rnnkit.load(chosen).predict(texts)
    network = rnnkit.load(chosen)
    alone = network.task.predictor(network.model, network.meta).predict(texts)
    reply = TestClient(rnnkit.serve.app(chosen)).post("/classify", json={"texts": texts})
    assert reply.status_code == 200
    got = [q for p in reply.json()["predictions"] for q in p["probabilities"].values()]
    assert got == pytest.approx([q for p in expected for q in p.probabilities.values()], abs=1e-6)
    assert got != pytest.approx([q for p in alone for q in p.probabilities.values()], abs=1e-3)   # not the network


def copy_without_ngrams(run_dir: Path, to: Path) -> Path:
    """The run's files copied to `to`, all but RUN_DIR/ngrams.safetensors."""
    to.mkdir()
    for f in run_dir.iterdir():
        if f.is_file() and f.name != NGRAMS_FILE:
            (to / f.name).write_bytes(f.read_bytes())
    return to


def test_a_run_without_its_n_gram_file_says_so(runs, tmp_path):
    chosen, _ = runs
    copy = copy_without_ngrams(chosen, tmp_path / "copy")
    with pytest.raises(CheckpointError, match=NGRAMS_FILE):
        _ = rnnkit.load(copy).predictor


def test_classify_select_makes_the_choice_on_a_run_without_one(runs, tmp_path, capsys):
    """`rnnkit classify select RUN`: a run from before the selection (no "selection", no n-gram file)
    gets the choice the training would have made; a run that keeps the network is refused."""
    chosen, alone = runs
    old = copy_without_ngrams(chosen, tmp_path / "old")
    document = json.loads((old / "meta.json").read_text())
    expected = document["meta"].pop("selection")
    (old / "meta.json").write_text(json.dumps(document))
    assert rnnkit.load(old).predictor.choice == "network"
    assert main(["classify", "select", str(old)]) == 0
    assert json.loads((old / "meta.json").read_text())["meta"]["selection"] == expected
    texts = ["the film was wonderful", "a boring plot and a dreadful cast", "cast plot"]
    again, before = (NgramLogReg.load(run / NGRAMS_FILE).probabilities(texts) for run in (old, chosen))
    np.testing.assert_allclose(again, before, rtol=0, atol=1e-12)      # the same model (the bytes' order may differ)
    assert rnnkit.load(old).predictor.choice == expected["choice"] != "network"
    assert f"chose {expected['choice']}" in capsys.readouterr().out
    assert main(["classify", "select", str(alone)]) == 2
    assert "task.select = 'validate'" in capsys.readouterr().err


def test_unknown_select_is_refused():
    from rnnkit.tasks.classification import TextClassification

    with pytest.raises(ValueError, match="task.select"):
        TextClassification(path="x.csv", select="best")
