"""SequenceTagger: scores one label per word from words and their characters, padding changes
nothing, and it learns a tiny tagging set (softmax; the CRF path where models/crf.py exists)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.config import ModelConfig
from rnnkit.models.stack import build_rnn
from rnnkit.models.tagger import CharEncoder, SequenceTagger

SENTENCES = [("the cat sat".split(), "D N V".split()), ("a dog ran fast".split(), "D N V R".split()),
             ("dogs ran".split(), "N V".split())]


def encode():
    words = {w: i + 1 for i, w in enumerate(sorted({w for s, _ in SENTENCES for w in s}))}
    letters = {c: i + 1 for i, c in enumerate(sorted({c for s, _ in SENTENCES for w in s for c in w}))}
    tags = {t: i for i, t in enumerate(sorted({t for _, ts in SENTENCES for t in ts}))}
    L, C = max(len(s) for s, _ in SENTENCES), max(len(w) for s, _ in SENTENCES for w in s)
    ids = torch.zeros(len(SENTENCES), L, dtype=torch.long)
    chars = torch.zeros(len(SENTENCES), L, C, dtype=torch.long)
    char_lengths = torch.zeros(len(SENTENCES), L, dtype=torch.long)
    gold = torch.zeros(len(SENTENCES), L, dtype=torch.long)
    for b, (s, ts) in enumerate(SENTENCES):
        for t, (w, tag) in enumerate(zip(s, ts)):
            ids[b, t], gold[b, t], char_lengths[b, t] = words[w], tags[tag], len(w)
            chars[b, t, :len(w)] = torch.tensor([letters[c] for c in w])
    lengths = torch.tensor([len(s) for s, _ in SENTENCES])
    return ids, chars, char_lengths, gold, lengths, len(words) + 1, len(letters) + 1, len(tags)


def tagger(vocab: int, alphabet: int, tags: int, crf=None) -> SequenceTagger:
    torch.manual_seed(0)
    chars = CharEncoder(alphabet, 6, 5)
    rnn = build_rnn(ModelConfig(cell="gru", hidden_size=8, bidirectional=True), 8 + chars.output_size)
    return SequenceTagger(vocab, tags, rnn, embedding_size=8, chars=chars, crf=crf)


def test_scores_of_a_sentence_do_not_depend_on_the_padding_around_it():
    ids, chars, char_lengths, _, lengths, vocab, alphabet, tags = encode()
    model = tagger(vocab, alphabet, tags).eval()
    with torch.no_grad():
        batch = model.scores(ids, lengths, chars, char_lengths)
        alone = model.scores(ids[2:, :2], lengths[2:], chars[2:, :2, :4], char_lengths[2:, :2])
    assert batch.shape == (3, 4, tags)
    torch.testing.assert_close(batch[2, :2], alone[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("use_crf", [False, True])
def test_the_tagger_learns_a_tiny_set(use_crf):
    ids, chars, char_lengths, gold, lengths, vocab, alphabet, tags = encode()
    crf = None
    if use_crf:
        crf_module = pytest.importorskip("rnnkit.models.crf")
        crf = crf_module.CRF(tags)
    model = tagger(vocab, alphabet, tags, crf)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        optimiser.zero_grad()
        loss = model.loss(model.scores(ids, lengths, chars, char_lengths), gold, lengths)
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        scores = model.scores(ids, lengths, chars, char_lengths)
        predicted = model.decode(scores, lengths)
        probabilities = model.probabilities(scores, lengths)
    assert predicted == [gold[b, :n].tolist() for b, n in enumerate(lengths.tolist())]
    torch.testing.assert_close(probabilities[0, :3].sum(-1), torch.ones(3))


def test_a_tagger_that_reads_characters_says_so_without_them():
    ids, _, _, _, lengths, vocab, alphabet, tags = encode()
    with pytest.raises(ValueError, match="pass chars"):
        tagger(vocab, alphabet, tags).scores(ids, lengths)
    with pytest.raises(ValueError, match="reads 20 features per word"):
        SequenceTagger(vocab, tags, build_rnn(ModelConfig(hidden_size=4), 20), embedding_size=8)


def test_forward_reads_words_and_characters_packed_in_one_tensor():
    ids, chars, char_lengths, _, lengths, vocab, alphabet, tags = encode()
    model = tagger(vocab, alphabet, tags).eval()
    packed = torch.cat([ids[..., None], chars], dim=-1)                       # (B, L, 1 + C)
    with torch.no_grad():
        torch.testing.assert_close(model(packed, lengths), model.scores(ids, lengths, chars, char_lengths))
    with pytest.raises(ValueError, match="1 \\+ C"):
        model(ids, lengths)
