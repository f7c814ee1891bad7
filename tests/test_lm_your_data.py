"""Language modelling on your own text: folders and files, errors that say what to do, the split a
run records, and the Kneser-Ney baselines scored on exactly the model's targets."""

from __future__ import annotations

import json
import math

import pytest

import rnnkit
from rnnkit.data.corpora import load_corpus
from rnnkit.data.text import Vocab, batchify_stream
from rnnkit.models.word_lm import WordNGram
from rnnkit.runs import BASELINES_FILE, SPLIT_FILE
from rnnkit.tasks.language_modeling import LanguageModeling
from rnnkit.tasks.lm_baselines import ngram_baselines, total_nll

TEXT = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n"


def test_a_folder_of_any_text_files_is_read_in_name_order_and_split_by_lines(tmp_path) -> None:
    (tmp_path / "b.txt").write_text("".join(f"b{i}\n" for i in range(10)))
    (tmp_path / "a.txt").write_text("".join(f"a{i}\n" for i in range(9)) + "a9")   # no final newline
    (tmp_path / ".DS_Store").write_bytes(b"\xff\x00")                              # hidden: skipped
    corpus = load_corpus(str(tmp_path), valid_fraction=0.2, test_fraction=0.1)
    assert corpus.train.startswith("a0\n") and "a9\nb0\n" in corpus.train        # no word spans two files
    assert corpus.parts["train"]["files"] == [{"file": "a.txt", "lines": [1, 10]}, {"file": "b.txt", "lines": [1, 5]}]
    assert corpus.parts["valid"]["files"] == [{"file": "b.txt", "lines": [6, 8]}]
    assert corpus.parts["test"]["files"] == [{"file": "b.txt", "lines": [9, 10]}]
    assert corpus.valid == "b5\nb6\nb7\n" and corpus.test == "b8\nb9\n"


def test_named_split_files_with_an_optional_test_file(tmp_path) -> None:
    (tmp_path / "wiki.train.tokens").write_text("a b\nc d\n")
    (tmp_path / "dev.txt").write_text("a\n")
    (tmp_path / "constraints.txt").write_text("not a split\n")                  # "train" inside a word: none
    corpus = load_corpus(str(tmp_path))
    assert (corpus.train, corpus.valid, corpus.test) == ("a b\nc d\n", "a\n", "")
    assert corpus.parts["train"]["files"] == [{"file": "wiki.train.tokens", "lines": [1, 2]}]
    assert corpus.parts["test"]["files"] == []


def test_errors_name_the_file_and_the_fix(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no files"):
        load_corpus(str(tmp_path / "empty"))
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "one.txt").write_text("fine\n")
    (tmp_path / "books" / "two.txt").write_bytes("line\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"two.txt is not UTF-8 text \(line 2.*iconv -f latin1"):
        load_corpus(str(tmp_path / "books"))
    (tmp_path / "twice").mkdir()
    for name in ("train.txt", "training.txt", "valid.txt"):
        (tmp_path / "twice" / name).write_text("x\n")
    with pytest.raises(ValueError, match=r"one file whose name says 'train' \(found \['train.txt', 'training.txt'\]"):
        load_corpus(str(tmp_path / "twice"))
    (tmp_path / "short.txt").write_text("one line only\n")
    with pytest.raises(ValueError, match="too short to split"):
        load_corpus(str(tmp_path / "short.txt"))


def test_load_records_what_each_split_holds(tmp_path) -> None:
    (tmp_path / "book.txt").write_text(TEXT * 20)
    task = LanguageModeling(path=str(tmp_path / "book.txt"), level="word", batch_size=2, eval_batch_size=1,
                            valid_fraction=0.1, test_fraction=0.1)
    data = task.load()
    assert data.ids["train"]["files"] == [{"file": "book.txt", "lines": [1, 48]}]
    assert data.ids["valid"]["files"] == [{"file": "book.txt", "lines": [49, 54]}]
    assert data.ids["test"]["targets"] == data.test.targets.numel() > 0
    assert data.ids == task.load().ids and len(data.ids["train"]["sha256"]) == 16
    json.dumps(data.ids)                                                      # JSON values only


def test_ngram_baselines_score_the_models_targets_with_its_metric_names(tmp_path) -> None:
    (tmp_path / "book.txt").write_text(TEXT * 40)
    task = LanguageModeling(path=str(tmp_path / "book.txt"), level="char", batch_size=3, eval_batch_size=2)
    data = task.load()
    rows = task.baselines(data, ["valid"])["valid"]
    assert list(rows) == ["unigram", "kneser_ney_7gram"]                     # a repeated text: the longest order
    assert all(list(m) == ["bpc", "loss", "ppl"] for m in rows.values())    # evaluate's names, in its order
    assert rows["kneser_ney_7gram"]["bpc"] < 0.5 * rows["unigram"]["bpc"]
    assert task.baselines(data, ["test"])["test"].keys() == rows.keys()


def test_ngram_rows_restart_their_history_like_the_models_state() -> None:
    vocab = Vocab.build("abcab\n", level="char")
    train, split = batchify_stream(vocab.encode("abcabcabc" * 5), 2), batchify_stream(vocab.encode("abcabca"), 2)
    lm = WordNGram.train([" ".join(str(i) for i in vocab.encode("abcabcabc" * 5)[:-1].tolist())], order=2)
    by_hand = 0.0
    for inputs, targets in zip(split.inputs.tolist(), split.targets.tolist()):
        for t, target in enumerate(targets):
            by_hand -= lm.score((str(inputs[t]),), str(target))               # order 2: the last input only
    assert total_nll(lm, split) == pytest.approx(by_hand)
    metrics = ngram_baselines(train, split, {"test": split}, "word")["test"]
    assert set(metrics) == {"unigram", "kneser_ney_2gram"} or set(metrics) == {"unigram", "kneser_ney_3gram"}
    assert all(math.isfinite(m["ppl"]) for m in metrics.values())


def test_lm_word_config_trains_on_a_folder_and_reports_its_baselines(tmp_path) -> None:
    corpus = tmp_path / "my_corpus"
    corpus.mkdir()
    for name, repeat in (("train.txt", 30), ("valid.txt", 3), ("test.txt", 3)):
        (corpus / name).write_text(TEXT * repeat)
    tiny = ["--model.hidden_size=8", "--model.num_layers=1", "--task.batch_size=4", "--task.eval_batch_size=2",
            "--train.epochs=2", "--train.bptt=8", "--train.plots=false", f"--out_dir={tmp_path / 'run'}"]
    cfg = rnnkit.load_config("configs/lm_word.toml", [f"--task.path={corpus}", *tiny])
    rnnkit.run(cfg)
    split = json.loads((tmp_path / "run" / SPLIT_FILE).read_text())["ids"]
    assert split["test"]["files"] == [{"file": "test.txt", "lines": [1, 9]}]
    table = json.loads((tmp_path / "run" / BASELINES_FILE).read_text())
    model, unigram, ngram = table["test"]
    assert (model, unigram, ngram) == ("model", "unigram", "kneser_ney_3gram")   # the text repeats: the longer order
    assert list(table["test"]["model"]) == list(table["test"][ngram]) == ["ppl", "loss"]
    assert table["test"][ngram]["ppl"] < 2 < table["test"][unigram]["ppl"]
    assert math.isfinite(table["valid"]["model"]["ppl"])
