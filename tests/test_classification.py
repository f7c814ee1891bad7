"""Classification: the model, bucketing, metrics by hand, data loading and its errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from rnnkit.cells import GRUCell
from rnnkit.config import ModelConfig
from rnnkit.data.labelled import (
    bucket_batches,
    encode_labels,
    normalize_text,
    read_sequence_dir,
    read_text_csv,
    split_imdb,
)
from rnnkit.layers import Bidirectional, Recurrent, Stacked
from rnnkit.layers.pooling import POOLINGS
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.tasks.classification.task import (
    SequenceClassification,
    TextClassification,
    accuracy,
    balanced_weights,
    confusion_matrix,
    macro_f1,
    per_class,
    report,
)

FIXTURE = Path(__file__).parent / "data" / "uci_sentences.csv"


# ---- model ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("pooling", sorted(POOLINGS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_ignores_padding(pooling, bidirectional):
    layer = Bidirectional.of(lambda: GRUCell(4, 5)) if bidirectional else Recurrent(GRUCell(4, 5))
    rnn = Stacked([layer])
    model = SequenceClassifier(rnn, POOLINGS[pooling](rnn.output_size, bidirectional=bidirectional), 3,
                               vocab_size=20, embedding_size=4).double().eval()
    tokens = torch.randint(0, 20, (2, 6))
    lengths = torch.tensor([6, 3])
    logits, _ = model(tokens, None, lengths)
    padded = torch.cat([tokens, torch.randint(0, 20, (2, 40))], dim=1)
    torch.testing.assert_close(model(padded, None, lengths)[0], logits)
    torch.testing.assert_close(model(tokens[1:, :3])[0][0], logits[1])
    assert logits.shape == (2, 3)


def test_feature_classifier_standardises_and_checks_width():
    rnn = Stacked([Recurrent(GRUCell(3, 4))])
    mean, std = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 2.0, 2.0])
    model = SequenceClassifier(rnn, POOLINGS["mean"](4), 2, feature_mean=mean, feature_std=std)
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(model.inputs(x), (x - mean) / std)
    with pytest.raises(ValueError, match=r"\(batch, time, 3\)"):
        model(torch.randn(2, 5, 4))
    assert "feature_mean" in model.state_dict()


def test_attention_weights_from_the_model():
    rnn = Stacked([Recurrent(GRUCell(4, 5))])
    model = SequenceClassifier(rnn, POOLINGS["attention"](5), 2, vocab_size=10, embedding_size=4)
    w = model.attention(torch.randint(0, 10, (2, 7)), torch.tensor([7, 2]))
    assert (w[1, 2:] == 0).all()
    with pytest.raises(ValueError, match="not attention"):
        SequenceClassifier(rnn, POOLINGS["max"](5), 2, vocab_size=10, embedding_size=4).attention(
            torch.randint(0, 10, (1, 3)))


# ---- bucketing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, size", [(103, 8), (64, 8), (5, 8)])
def test_bucketing_uses_every_example_once_per_epoch(n, size):
    lengths = torch.randint(1, 200, (n,))
    for epoch in range(3):
        batches = bucket_batches(lengths, size, seed=1, epoch=epoch, pool=4)
        seen = torch.cat(batches)
        assert sorted(seen.tolist()) == list(range(n))
        assert all(len(b) == size for b in batches[:-1]) and 1 <= len(batches[-1]) <= size


def test_bucketing_groups_similar_lengths_and_varies_by_epoch():
    lengths = torch.randint(1, 500, (640,))
    batches = bucket_batches(lengths, 16, seed=0, epoch=0, pool=40)        # one pool: fully sorted
    spread = sum(int(lengths[b].max() - lengths[b].min()) for b in batches) / len(batches)
    assert spread < 40                                                     # random batches: ~450
    padding = sum(int(lengths[b].max()) * len(b) - int(lengths[b].sum()) for b in batches)
    assert padding < 0.1 * int(lengths.sum())
    again = bucket_batches(lengths, 16, seed=0, epoch=0, pool=40)
    assert all(torch.equal(a, b) for a, b in zip(batches, again))
    other = bucket_batches(lengths, 16, seed=0, epoch=1, pool=40)
    assert not all(torch.equal(a, b) for a, b in zip(batches, other))


# ---- metrics by hand ------------------------------------------------------------------------------
def test_metrics_against_hand_calculation():
    y = torch.tensor([0, 0, 0, 1, 1, 2])
    p = torch.tensor([0, 1, 0, 1, 2, 2])
    assert confusion_matrix(y, p, 3).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert accuracy(y, p) == pytest.approx(4 / 6)
    rows = per_class(y, p, 3)
    # class 0: P = 2/2, R = 2/3, F1 = 0.8; class 1: P = 1/2, R = 1/2, F1 = 0.5; class 2: P = 1/2, R = 1, F1 = 2/3
    assert [r["f1"] for r in rows] == pytest.approx([0.8, 0.5, 2 / 3])
    assert [r["precision"] for r in rows] == pytest.approx([1.0, 0.5, 0.5])
    assert [r["support"] for r in rows] == [3, 2, 1]
    assert macro_f1(y, p, 3) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert "macro avg" in report(y, p, ["a", "b", "c"])


def test_macro_f1_skips_classes_absent_from_targets_and_predictions():
    y, p = torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0])
    # class 0: P 1/2 R 1 F1 2/3; class 1: P 1 R 1/2 F1 2/3; class 2 absent
    assert macro_f1(y, p, 3) == pytest.approx(2 / 3)


def test_balanced_weights():
    w = balanced_weights(torch.tensor([0, 0, 0, 1]), 2)
    assert w.tolist() == pytest.approx([4 / 6, 4 / 2])


# ---- data and its errors --------------------------------------------------------------------------
def write_csv(path: Path, rows, header=("text", "label")) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def test_normalize_text():
    assert normalize_text("Great film!<br />10/10 &amp; more") == "great film ! 10 / 10 & more"


def test_csv_errors_name_the_line(tmp_path):
    with pytest.raises(ValueError, match="no label column 'label'"):
        read_text_csv(write_csv(tmp_path / "a.csv", [("x", "1")], header=("text", "y")))
    with pytest.raises(ValueError, match="line 3: empty text"):
        read_text_csv(write_csv(tmp_path / "b.csv", [("good", "1"), ("  ", "0")]))
    with pytest.raises(ValueError, match="at least two classes"):
        encode_labels(["pos", "pos"])
    with pytest.raises(ValueError, match="row 1: label 'meh' was never seen"):
        encode_labels(["pos", "meh"], ["neg", "pos"])


def test_text_task_loads_the_fixture():
    task = TextClassification(path=str(FIXTURE), max_vocab=500, class_weights="balanced")
    data = task.load()
    assert (len(data.train), len(data.valid), len(data.test)) == (2400, 300, 300)
    assert data.meta["classes"] == ["0", "1"] and len(data.meta["vocab"]["tokens"]) == 500
    assert data.train.lengths.min() >= 1 and data.train.inputs.size(1) == int(data.train.lengths.max())
    model = task.build_model(ModelConfig(cell="gru", hidden_size=8, bidirectional=True), task.describe(data))
    loss, _ = task.loss(model, data.train.select(slice(0, 4)), None)
    assert loss.isfinite()
    metrics = task.evaluate(model.eval(), [data.valid])
    assert list(metrics) == ["loss", "accuracy", "macro_f1"]


def test_one_class_only_is_an_error(tmp_path):
    path = write_csv(tmp_path / "one.csv", [(f"text {i}", "pos") for i in range(20)])
    with pytest.raises(ValueError, match="at least two classes"):
        TextClassification(path=str(path)).load()


def test_imdb_split_is_seeded_and_disjoint():
    train, test = split_imdb(100, train_size=60, seed=3)
    assert len(train) == 60 and len(test) == 40 and not set(train.tolist()) & set(test.tolist())
    assert torch.equal(split_imdb(100, train_size=60, seed=3)[0], train)


def sequence_dir(root: Path, *, bad: str = "") -> Path:
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(6):
            steps = torch.randn(3 + i, 2) + (2.0 if label == "b" else 0.0)
            rows = [[f"{v:.4f}" for v in row] for row in steps.tolist()]
            if bad == "nan" and label == "b" and i == 2:
                rows[1][0] = "nan"
            if bad == "width" and label == "b" and i == 3:
                rows[2] = rows[2] + ["1.0"]
            write_csv(root / label / f"{i}.csv", rows, header=("x", "y"))
    return root


def test_sequence_dir_and_task(tmp_path):
    series, labels = read_sequence_dir(sequence_dir(tmp_path / "seq"))
    assert len(series) == 12 and series[0].shape == (3, 2) and labels[:6] == ["a"] * 6
    task = SequenceClassification(path=str(tmp_path / "seq"), valid_fraction=0.2, test_fraction=0.2,
                                  protocol="holdout")
    data = task.load()
    assert len(data.train) + len(data.valid) + len(data.test) == 12
    # "auto" cross-validates so few sequences: no valid split is carved, the same test one is
    small = SequenceClassification(path=str(tmp_path / "seq"), valid_fraction=0.2, test_fraction=0.2).load()
    assert small.valid is None and len(small.train) == 12 - len(data.test)
    assert torch.equal(small.test.targets, data.test.targets)
    assert data.meta["num_features"] == 2 and len(data.meta["mean"]) == 2
    model = task.build_model(ModelConfig(cell="lstm", hidden_size=4), task.describe(data))
    assert task.loss(model, data.train, None)[0].isfinite()


@pytest.mark.parametrize("bad, message", [("nan", r"b/2\.csv, line 3: NaN"),
                                          ("width", r"b/3\.csv, line 4: 3 features")])
def test_bad_sequences_name_the_file_and_line(tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        read_sequence_dir(sequence_dir(tmp_path / "seq", bad=bad))


def test_check_sequences_names_the_sequence_and_step():
    from rnnkit.data.labelled import check_sequences

    good = [torch.randn(4, 3), torch.randn(2, 3)]
    check_sequences(good, 3)
    bad = [good[0], torch.tensor([[0.0, 1.0, 2.0], [float("nan"), 0.0, 0.0]])]
    with pytest.raises(ValueError, match="test sequence 1, step 1: NaN"):
        check_sequences(bad, where="test ")
    with pytest.raises(ValueError, match="sequence 0: 3 features, but the model was trained on 5"):
        check_sequences(good, 5)
    with pytest.raises(ValueError, match=r"sequence 0: expected a \(time >= 1, features\)"):
        check_sequences([torch.zeros(0, 3)])


def test_copy_embeddings_copies_shared_tokens_only():
    from torch import nn

    from rnnkit.models.classifier import copy_embeddings

    ours, theirs = nn.Embedding(3, 4), nn.Embedding(4, 4)
    before = ours.weight.detach().clone()
    assert copy_embeddings(ours, ["<unk>", "good", "zzz"], theirs, ["<unk>", "<eos>", "bad", "good"]) == 2
    torch.testing.assert_close(ours.weight[1], theirs.weight[3])
    torch.testing.assert_close(ours.weight[0], theirs.weight[0])
    torch.testing.assert_close(ours.weight[2], before[2])
    with pytest.raises(ValueError, match="embedding_size = 5"):
        copy_embeddings(ours, ["a"], nn.Embedding(2, 5), ["a", "b"])


def test_bpe_level(tmp_path):
    pytest.importorskip("tokenizers")
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines[:101] + lines[-100:]) + "\n", encoding="utf-8")
    data = TextClassification(path=str(path), level="bpe", max_vocab=300).load()
    assert data.meta["vocab"]["level"] == "bpe" and data.train.inputs.dtype == torch.long
    assert int(data.train.inputs.max()) < len(data.meta["vocab"]["tokens"])


def test_bucketed_training_split_uses_every_example_once_and_trains(tmp_path):
    from rnnkit.data.labelled import FILLER
    from rnnkit.runs import run
    from rnnkit.runs.configs import load_config

    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines[:51] + lines[-50:]) + "\n", encoding="utf-8")
    plain = TextClassification(path=str(path)).load()
    data = TextClassification(path=str(path), bucket_size=8).load()
    k, b, t = data.train.inputs.shape
    assert b == 8 and k == -(-len(plain.train) // 8)
    real = data.train.targets != FILLER
    assert int(real.sum()) == len(plain.train)
    spread = (data.train.lengths.max(1).values - data.train.lengths.min(1).values)[real.all(1)]
    assert spread.float().mean() < 10                     # similar lengths in each batch
    assert sorted(data.train.lengths[real].tolist()) == sorted(plain.train.lengths.tolist())
    cfg = load_config(None, ["--task.name=text_classification", f"--task.path={path}", "--task.bucket_size=8",
                             "--model.hidden_size=8", "--train.iterations=3", "--train.batch_size=1",
                             "--train.plots=false", f"--out_dir={tmp_path / 'run'}"])
    assert 0 <= run(cfg)["accuracy"] <= 1
    from rnnkit.cli import main

    assert main(["classify", "eval", str(tmp_path / "run"), "--split=valid"]) == 0
