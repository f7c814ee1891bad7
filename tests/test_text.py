"""Tokenisers, vocabulary files and stream batching for language models."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.data.text import (
    EOS,
    UNK,
    UNK_CHAR,
    Vocab,
    batchify_stream,
    chunk_lengths,
    perplexity_metrics,
    stream_chunks,
)

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


def test_char_round_trip_and_unknown_characters():
    vocab = Vocab.build(TEXT, level="char")
    assert vocab.tokens[0] == UNK_CHAR and len(vocab) == len(set(TEXT)) + 1
    assert vocab.decode(vocab.encode(TEXT)) == TEXT
    assert vocab.unknown("Speak, Zoë!") == ["Z", "ë", "!"]
    assert vocab.decode(vocab.encode("Zeal")) == UNK_CHAR + "eal"


def test_word_round_trip_cap_and_min_count():
    vocab = Vocab.build("a b a\nc a b\n", level="word")
    assert vocab.tokens[:2] == [UNK, EOS] and vocab.tokens[2:] == ["a", "b", "c"]    # by frequency
    assert vocab.decode(vocab.encode("a b\nc\n")) == "a b\nc\n"
    assert vocab.decode(vocab.encode("a zebra")) == f"a {UNK}\n"
    assert Vocab.build("a b a\nc a b\n", level="word", max_size=4).tokens == [UNK, EOS, "a", "b"]
    assert Vocab.build("a b a\nc a b\n", level="word", min_count=3).tokens == [UNK, EOS, "a"]


def test_bpe_round_trip():
    pytest.importorskip("tokenizers")
    vocab = Vocab.build(TEXT * 20, level="bpe", max_size=300)
    text = "Speak, speak, Zoë — hear me!\n"
    assert vocab.decode(vocab.encode(text)) == text                 # byte level: nothing is unknown
    assert vocab.unknown(text) == []
    assert Vocab.from_dict(vocab.to_dict()) == vocab


@pytest.mark.parametrize("level", ["char", "word"])
def test_vocab_file_round_trip(tmp_path, level):
    vocab = Vocab.build(TEXT, level=level)
    vocab.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json") == vocab
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]     # no temporary file left


def test_bad_vocabularies():
    with pytest.raises(ValueError, match="empty"):
        Vocab.build(" \n ", level="char")
    with pytest.raises(ValueError, match="level"):
        Vocab.build(TEXT, level="byte")
    with pytest.raises(ValueError, match="not an rnnkit vocabulary"):
        Vocab.from_dict({"tokens": ["a"]})


def test_batchify_stream_targets_every_token_once():
    ids = torch.arange(103)
    stream = batchify_stream(ids, 4)                                  # L = 102 // 4 = 25
    assert stream.inputs.shape == stream.targets.shape == (4, 25)
    assert torch.equal(stream.targets.flatten(), ids[1:101])          # each token a target once, in order
    assert torch.equal(stream.inputs[:, 1:], stream.targets[:, :-1])  # row b continues itself
    assert torch.equal(stream.inputs[1:, 0], stream.targets[:-1, -1])  # and the next row picks up
    with pytest.raises(ValueError, match="too short"):
        batchify_stream(torch.arange(4), 4)


@pytest.mark.parametrize("random_length", [False, True])
def test_stream_chunks_cover_the_stream_in_order(random_length):
    stream = batchify_stream(torch.arange(1001), 5)
    chunks = list(stream_chunks(stream, 7, random_length=random_length, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(torch.cat([c.inputs for c in chunks], 1), stream.inputs)
    assert torch.equal(torch.cat([c.targets for c in chunks], 1), stream.targets)
    if not random_length:
        assert [c.inputs.size(1) for c in chunks] == [7] * 28 + [4]


def test_random_chunk_lengths():
    lengths = chunk_lengths(10_000, 70, random_length=True, generator=torch.Generator().manual_seed(1))
    assert sum(lengths) == 10_000 and min(lengths[:-1]) >= 5
    assert 55 < sum(lengths[:-1]) / len(lengths[:-1]) < 72           # mostly N(70, 5), sometimes N(35, 5)


def test_perplexity_metrics_by_hand():
    metrics = perplexity_metrics(2 * math.log(4) + 2 * math.log(2), 4, level="char")
    assert metrics["loss"] == pytest.approx(1.5 * math.log(2))
    assert metrics["bpc"] == pytest.approx(1.5)
    assert metrics["ppl"] == pytest.approx(2 ** 1.5)
    assert "bpc" not in perplexity_metrics(1.0, 1, level="word")
