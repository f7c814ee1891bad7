"""The translation task: metrics, generated dates, TSV pairs and their bad input, a short
training through fit on tiny data."""

from __future__ import annotations

import math

import pytest
import torch

import rnnkit
from rnnkit.data.dates import generate_dates
from rnnkit.data.pairs import bucketed_pairs, encode_pairs, read_pairs, trimmed
from rnnkit.data.text import Vocab
from rnnkit.tasks import build_task
from rnnkit.tasks.translation.metrics import bleu, chrf, exact_match, signatures, text_metrics
from rnnkit.tasks.translation.task import Translation, detokenize, target_vocab


def test_identical_outputs_score_100_bleu_and_chrf():
    refs = ["the cat sat on the mat", "y la tierra estaba desordenada y vacía", "2021-03-04"]
    assert math.isclose(bleu(refs, refs), 100.0) and math.isclose(chrf(refs, refs), 100.0)
    assert exact_match(refs, refs) == 1.0
    worse = text_metrics(["the dog sat on a mat", "y la tierra", "2021-03-05"], refs)
    assert worse["bleu"] < 100 and worse["chrf"] < 100 and worse["exact_match"] == 0.0
    assert "tok:13a" in signatures()["bleu"]
    with pytest.raises(ValueError, match="pair up"):
        bleu(refs, refs[:2])


def test_generated_dates_are_distinct_unambiguous_and_seeded():
    pairs = generate_dates(1500, seed=3)
    assert len({s for s, _ in pairs}) == 1500 and pairs == generate_dates(1500, seed=3)
    assert all(len(t) == 10 and t[4] == t[7] == "-" and "1950" <= t[:4] <= "2049" for _, t in pairs)


def write(tmp_path, text: str):
    path = tmp_path / "pairs.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_tsv_counts_what_it_skips_and_names_bad_lines(tmp_path, capsys):
    path = write(tmp_path, "a b\tx y\n\n  \nc\t\n\td\ne f\tz\n")
    assert read_pairs(path) == [("a b", "x y"), ("e f", "z")]
    err = capsys.readouterr().err
    assert "skipped 2 blank line(s)" in err and "skipped 2 pair(s) with an empty side (lines 4, 5)" in err
    with pytest.raises(ValueError, match="line 2: no tab"):
        read_pairs(write(tmp_path, "a\tb\nno tab here\n"))
    with pytest.raises(ValueError, match="no sentence pairs"):
        read_pairs(write(tmp_path, "\n\n"))


def test_too_long_sides_are_cut_with_a_count(capsys):
    src = Vocab.build("a b c d e", level="word")
    tgt = Vocab.build("x y z", level="word")
    batch = encode_pairs([("a b c d e", "x y"), ("a", "x y z x y z")], src, tgt, max_length=3)
    assert batch.lengths.tolist() == [3, 1] and batch.target_lengths.tolist() == [3, 4]
    bos, eos = len(tgt), len(tgt) + 1
    assert batch.targets[1].tolist() == [bos, *tgt.encode("x y z")[:3].tolist(), eos]
    err = capsys.readouterr().err
    assert "source 1 of 2 sentence(s) longer than max_length = 3" in err
    assert "target 1 of 2 sentence(s) longer" in err


def test_bucketed_batches_hold_every_pair_once():
    src = Vocab.build("a b c", level="char")
    pairs = [("a" * n, "b" * (n % 3 + 1)) for n in range(1, 12)]
    split = encode_pairs(pairs, src, src, max_length=20)
    buckets = bucketed_pairs(split, 4, seed=0)
    assert buckets.inputs.shape[:2] == (3, 4)
    source, lengths, targets, target_lengths = trimmed(buckets)
    real = target_lengths > 0
    assert sorted(lengths[real].tolist()) == list(range(1, 12)) and int((~real).sum()) == 1


def tiny_tsv(tmp_path):
    lines = [f"{w} {v}\t{v.upper()} {w.upper()}" for w in ("red", "blue", "green") for v in ("cat", "dog", "cow")]
    path = tmp_path / "toy.tsv"
    path.write_text("\n".join(lines * 4) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("attention", ["none", "additive", "general"])
def test_trains_and_evaluates_through_fit(tmp_path, attention):
    cfg = rnnkit.load_config(None, ["--task.name=translation", f"--task.path={tiny_tsv(tmp_path)}",
                                    "--task.level=word", f"--task.attention={attention}", "--task.embedding_size=8",
                                    "--task.label_smoothing=0.1", "--task.sampling=0.25", "--task.bucket_size=4",
                                    "--task.valid_fraction=0.2", "--task.test_fraction=0.2", "--model.hidden_size=8",
                                    "--model.bidirectional=true", "--train.iterations=3", "--train.batch_size=1",
                                    "--train.eval_every=0", "--train.plots=false"])
    task = build_task(cfg.task)
    data = task.load()
    model = task.build_model(cfg.model, task.describe(data))
    metrics = rnnkit.fit(model, task, data, cfg)
    assert {"loss", "ppl", "accuracy", "bleu", "chrf", "exact_match"} <= set(metrics)
    assert all(math.isfinite(v) for v in metrics.values())
    vocab = target_vocab(model)
    assert detokenize(vocab, [len(vocab), vocab.index["CAT"], vocab.index["RED"], len(vocab) + 1]) == "CAT RED"


def test_config_errors_name_the_setting():
    with pytest.raises(ValueError, match="task.attention"):
        Translation(attention="bahdanau")
    with pytest.raises(ValueError, match="sampling"):
        Translation(sampling=1.5)


def test_the_date_task_loads_at_char_level():
    data = Translation(path="dates", samples=200, level="word").load()
    assert data.meta["target_vocab"]["level"] == "char"
    assert len(data.train) + len(data.valid) + len(data.test) == 200
    assert torch.equal(data.train.targets[:, 0], torch.full((len(data.train),),
                                                            len(data.meta["target_vocab"]["tokens"])))
