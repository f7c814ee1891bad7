"""The tagging task end to end on a small generated NER corpus (column files, IOB2): train with a
CRF over BIOES tags, tag a user's text from stdin (CoNLL and JSON), score a split with its report
and confusion PNG, and load the run back without its data."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.tasks.tagging import Tagging
from rnnkit.tasks.tagging.data import Encoding

# "Will" is a name and (lower-cased, as the vocabulary reads words) the verb of a template: a
# word's most frequent tag cannot tell them apart, its case and its place in the sentence can
PEOPLE = [["John", "Smith"], ["Mary"], ["Ann", "Lee"], ["Bob"], ["Kim", "Park"], ["Sue"], ["Will"]]
PLACES = [["Paris"], ["New", "York"], ["Rome"], ["Oslo"], ["Los", "Angeles"], ["Lima"]]
TEMPLATES = ["{P} will fly to {L} .", "{P} lives in {L} .", "{P} flew to {L} yesterday .", "In {L} , {P} smiled ."]


def sentence(rng: random.Random) -> list[tuple[str, str]]:
    person, place = rng.choice(PEOPLE), rng.choice(PLACES)
    rows = []
    for word in rng.choice(TEMPLATES).split():
        name, kind = (person, "PER") if word == "{P}" else (place, "LOC") if word == "{L}" else (None, "")
        if name is None:
            rows.append((word, "O"))
        else:
            rows += [(w, ("B-" if i == 0 else "I-") + kind) for i, w in enumerate(name)]
    return rows


def write_corpus(folder: Path, sizes: dict[str, int]) -> Path:
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in sizes.items():
        lines = ["-DOCSTART- -X- -X- O", ""]
        for _ in range(n):
            lines += [f"{w} NN O {t}" for w, t in sentence(rng)] + [""]
        (folder / f"{split}.txt").write_text("\n".join(lines), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("tagging")
    data = write_corpus(tmp / "ner", {"train": 120, "valid": 20, "test": 20})
    (tmp / "config.toml").write_text(f"""
seed = 0
out_dir = "{tmp / 'run'}"
[task]
name = "tagging"
path = "{data}"
scheme = "IOB2"
crf = true
embedding_size = 16
char_embedding_size = 8
char_hidden_size = 8
dropout = 0.1
[model]
cell = "gru"
hidden_size = 16
bidirectional = true
[train]
epochs = 12
batch_size = 8
eval_every_epochs = 4
metric = "f1"
direction = "maximize"
[optim]
lr = 1e-2
""")
    assert main(["train", str(tmp / "config.toml")]) == 0
    return tmp / "run"


def test_training_learns_the_entities_and_beats_the_baseline(run_dir):
    table = json.loads((run_dir / "baselines.json").read_text())
    model, baseline = table["test"]["model"], table["test"]["most frequent tag"]
    assert model["f1"] > 0.95 and model["f1"] > baseline["f1"]
    assert (run_dir / "plots" / "confusion_test.png").stat().st_size > 1000
    assert "entities (conlleval counting)" in (run_dir / "plots" / "tag_report_test.txt").read_text()


def test_tag_reads_stdin_and_writes_conll_columns_in_the_files_scheme(run_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("Mary flew to New York yesterday .\n\nJohn Smith lives in Rome .\n"))
    assert main(["tag", str(run_dir)]) == 0
    blocks = capsys.readouterr().out.strip().split("\n\n")
    assert len(blocks) == 2
    rows = [line.split("\t") for line in blocks[0].splitlines()]
    assert [r[1] for r in rows] == ["B-PER", "O", "O", "B-LOC", "I-LOC", "O", "O"]   # IOB2, not BIOES
    assert all(0 < float(r[2]) <= 1 for r in rows)


def test_tag_json_has_every_tags_probability_and_tokens_mode_reads_one_token_a_line(run_dir, tmp_path, capsys):
    (tmp_path / "tokens.txt").write_text("Mary\tx\nsmiled\n.\n\nSue\nlives\n", encoding="utf-8")
    assert main(["tag", str(run_dir), str(tmp_path / "tokens.txt"), "--input=tokens", "--format=json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [s["words"] for s in lines] == [["Mary", "smiled", "."], ["Sue", "lives"]]
    for s in lines:
        for distribution in s["probabilities"]:
            assert sum(distribution.values()) == pytest.approx(1, abs=1e-4)
            assert set(distribution) >= {"O", "S-PER", "E-LOC"}            # the model's BIOES tags


def test_split_report_and_confusion_png(run_dir, capsys):
    assert main(["tag", str(run_dir), "--split=test"]) == 0
    out = capsys.readouterr().out
    metrics = json.loads(out.splitlines()[0])
    assert metrics["split"] == "test" and metrics["f1"] > 0.95 and "PER" in out
    assert (run_dir / "confusion_test.png").stat().st_size > 1000


def test_a_saved_run_predicts_without_its_data(run_dir, without_data):
    saved = rnnkit.load(run_dir)
    [a, b] = saved.predict(["Bob lives in Oslo .", ["Kim", "Park", "smiled"]])
    assert a.tags == ["B-PER", "O", "O", "B-LOC", "O"] and b.words == ["Kim", "Park", "smiled"]
    with pytest.raises(ValueError, match="sentence 2 has no tokens"):
        saved.predict(["Bob", ""])


def test_sources_folder_single_file_and_bad_tags(tmp_path):
    data = write_corpus(tmp_path / "c", {"train": 30})
    task = Tagging(path=str(data / "train.txt"), scheme="IOB2", valid_fraction=0.2, test_fraction=0.2)
    splits = task.load()
    assert len(splits.train) + len(splits.valid) + len(splits.test) == 30 and len(splits.test) == 6
    assert splits.meta["tags"] == ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-PER", "I-PER", "E-PER", "S-PER"]
    (tmp_path / "bad.txt").write_text("Bob NN O B-PER\n\n" * 3 + "Mary NN O I-PER\nsmiled NN O O\n", encoding="utf-8")
    with pytest.raises(ValueError, match="train sentence 4 .*I-PER continues a PER chunk"):
        Tagging(path=str(tmp_path / "bad.txt"), scheme="IOB2").load()
    write_corpus(tmp_path / "d", {"train": 10, "test": 3})
    (tmp_path / "d" / "test.txt").write_text("Mary NN O B-ORG\n", encoding="utf-8")
    with pytest.raises(ValueError, match="test sentence 1 has tags the training sentences never use: S-ORG"):
        Tagging(path=str(tmp_path / "d"), scheme="IOB2").load()
    with pytest.raises(ValueError, match="task.scheme must be one of"):
        Tagging(path="x", scheme="BILOU")


def test_encoding_normalises_words_but_keeps_characters():
    enc = Encoding.build([(["The", "cat", "sat", "in", "1999"], list("DNVPM")), (["the", "cat"], ["D", "N"])],
                         min_count=1, tags=list("DMNPV"), lowercase=True, digits=True, max_chars=3)
    assert enc.words[:4] == ["<pad>", "<unk>", "cat", "the"] and "0000" in enc.words
    assert enc.singletons == 4                                       # words[4:] were seen once
    inputs, lengths = enc.encode([["THE", "2024", "dog"]])
    assert lengths.tolist() == [3] and inputs.shape == (1, 3, 4) and inputs.dtype == torch.int32
    assert inputs[0, :, 0].tolist() == [3, enc.words.index("0000"), 1]
    assert inputs[0, 2, 1:].tolist() == [1, 1, 1]                    # d, o, g: never seen (upper case T was)
    assert inputs[0, 0, 1].item() == enc.alphabet.index("T")


def test_word_dropout_reads_rare_words_as_unknown_only_in_training():
    task = Tagging(path="x", char_hidden_size=0, word_dropout=1.0, embedding_size=4)
    meta = Encoding(["<pad>", "<unk>", "a", "b"], ["<pad>", "<unk>"], ["X", "Y"], singletons=3).to_dict()
    model = task.build_model(rnnkit.config.ModelConfig(hidden_size=4), meta)
    seen = []
    model.embedding.register_forward_hook(lambda m, args, out: seen.append(args[0].tolist()))
    words = torch.tensor([[[2], [3]]])
    model.train()(words, torch.tensor([2]))
    model.eval()(words, torch.tensor([2]))
    assert seen == [[[2, 1]], [[2, 3]]]


def test_a_reader_that_stops_early_is_not_an_error(run_dir, tmp_path):
    (tmp_path / "many.txt").write_text("Mary smiled .\n" * 3000, encoding="utf-8")  # ~200 kB out: past a pipe buffer
    done = subprocess.run(f"{sys.executable} -m rnnkit tag {run_dir} {tmp_path / 'many.txt'} | head -1", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("Mary\t") and done.stdout.count("\n") == 1
    # nothing on stderr but, on a fresh numba cache, the notice that a loop is compiling and its end
    notice = lambda line: line.startswith("rnnkit: compiling") or (line.startswith("rnnkit: ...")  # noqa: E731
                                                                     and " compiled in " in line)
    assert [line for line in done.stderr.splitlines() if not notice(line)] == []
