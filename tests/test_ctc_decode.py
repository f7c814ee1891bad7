"""CTC decoding on hand-built probability matrices with known answers; the word n-gram model."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnkit.data.alphabet import Alphabet
from rnnkit.models.ctc_decode import beam_hypotheses, frame_times, greedy_decode, prefix_beam_search
from rnnkit.models.word_lm import Lexicon, WordNGram

ALPHABET = Alphabet()


def frames(*rows: dict[str, float]) -> torch.Tensor:
    """(T, C) log-probs: each row gives some characters' probabilities ("_" is blank); the rest of
    the mass goes to blank, and every class keeps a little so no path is impossible."""
    probs = torch.full((len(rows), len(ALPHABET)), 1e-4, dtype=torch.float64)
    for t, row in enumerate(rows):
        for char, p in row.items():
            probs[t, 0 if char == "_" else ALPHABET.encode(char)[0]] = p
        probs[t, 0] += max(0.0, 1 - float(probs[t].sum()))
    return (probs / probs.sum(-1, keepdim=True)).log()


def spell(text: str) -> list[dict[str, float]]:
    """A confident frame per character with a blank frame after each."""
    return [row for c in text for row in ({c: 0.95}, {"_": 0.95})]


def text_of(pairs: list[tuple[int, int]]) -> str:
    return ALPHABET.decode([token for token, _ in pairs])


def test_greedy_merges_repeats_drops_blanks_and_keeps_first_frames():
    blank, a, b = 0, 1, 2
    best = [a, a, blank, b, b, a, blank, a]
    log_probs = torch.nn.functional.one_hot(torch.tensor(best), 3).double().add(0.1).log_softmax(-1)
    assert greedy_decode(log_probs) == [(a, 0), (b, 3), (a, 5), (a, 7)]
    assert greedy_decode(log_probs, blank=a) == [(blank, 2), (b, 3), (blank, 6)]


def test_beam_finds_the_most_probable_labelling_where_greedy_does_not():
    # the classic case: the best path is "blank blank" (0.36), but "a" has three paths (0.64)
    log_probs = torch.tensor([[0.6, 0.4], [0.6, 0.4]], dtype=torch.float64).log()
    assert greedy_decode(log_probs) == []
    assert prefix_beam_search(log_probs, 2) == [(1, 0)]
    best, empty = beam_hypotheses(log_probs, 2)
    assert best.score == pytest.approx(math.log(0.64)) and empty.tokens == () and empty.score == pytest.approx(
        math.log(0.36))


def test_wide_beam_is_exact_against_summing_every_path():
    log_probs = torch.randn(5, 3, dtype=torch.float64).log_softmax(-1)
    exact: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(3), repeat=5):
        labels = tuple(c for t, c in enumerate(path) if c != 0 and (t == 0 or path[t - 1] != c))
        exact[labels] = exact.get(labels, 0.0) + math.exp(sum(float(log_probs[t, c]) for t, c in enumerate(path)))
    found = beam_hypotheses(log_probs, 1000, min_log_prob=-math.inf)
    assert {h.tokens for h in found} == set(exact)
    for h in found:
        assert math.exp(h.score) == pytest.approx(exact[h.tokens], rel=1e-12)
    assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)


def test_beam_timestamps_are_first_emission_frames():
    log_probs = frames({"_": 0.9}, {"o": 0.9}, {"o": 0.9}, {"_": 0.9}, {" ": 0.9}, {"n": 0.6}, {"n": 0.9},
                       {"e": 0.9}, {"_": 0.9})
    pairs = prefix_beam_search(log_probs, 8)
    assert text_of(pairs) == "o ne" and [t for _, t in pairs] == [1, 4, 5, 7]
    assert pairs == greedy_decode(log_probs)
    assert frame_times([1, 4], hop_length=160, sample_rate=16000) == [0.01, 0.04]
    assert frame_times([3], hop_length=160, sample_rate=16000, subsampling=2) == [0.06]


def test_word_lm_and_lexicon_change_the_answer():
    # "the c?t": acoustically "o" (0.55) beats "a" (0.4); the language model and lexicon know "cat"
    log_probs = frames(*spell("the c"), {"o": 0.55, "a": 0.4}, {"_": 0.95}, *spell("t"))
    assert text_of(prefix_beam_search(log_probs, 8)) == "the cot"
    lm = WordNGram.train(["the cat sat", "a cat", "the mat"], order=2)
    assert text_of(prefix_beam_search(log_probs, 8, alphabet=ALPHABET, lm=lm, alpha=1.0, beta=0.0)) == "the cat"
    assert text_of(prefix_beam_search(log_probs, 8, alphabet=ALPHABET, lm=lm, alpha=0.01, beta=0.0)) == "the cot"
    lexicon = Lexicon.from_words(["the", "cat", "dog"])
    assert text_of(prefix_beam_search(log_probs, 8, alphabet=ALPHABET, lexicon=lexicon)) == "the cat"
    assert prefix_beam_search(log_probs, 8, alphabet=ALPHABET, lexicon=Lexicon.from_words(["dog"])) == []


def test_word_insertion_bonus_favours_more_words():
    # "no one" vs "noone": the space is uncertain (0.3); beta pays for the extra word
    log_probs = frames(*spell("no"), {" ": 0.3}, *spell("one"))
    lm = WordNGram.train(["no one", "noone"], order=1)
    assert text_of(prefix_beam_search(log_probs, 8, alphabet=ALPHABET, lm=lm, alpha=0.0, beta=0.0)) == "noone"
    assert text_of(prefix_beam_search(log_probs, 8, alphabet=ALPHABET, lm=lm, alpha=0.0, beta=2.0)) == "no one"


def test_decoding_errors():
    with pytest.raises(ValueError, match="needs alphabet="):
        prefix_beam_search(frames({"a": 0.9}), 4, lexicon=Lexicon.from_words(["a"]))
    with pytest.raises(ValueError, match=r"\(T, C\) for one utterance"):
        greedy_decode(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="beam_width must be >= 1"):
        prefix_beam_search(frames({"a": 0.9}), 0)
    with pytest.raises(ValueError, match="blank 5 is outside"):
        greedy_decode(torch.zeros(3, 4), blank=5)


def test_kneser_ney_by_hand():
    lm = WordNGram.train(["a b", "a c"], order=2, discount=0.75)
    # continuation counts: a 1, b 1, c 1, </s> 2 (of 5, 4 types); vocabulary a b c </s> <unk>
    p_b = 0.25 / 5 + 0.75 * 4 / 5 / 5                                       # 0.17
    assert lm.score(("a",), "b") == pytest.approx(math.log(0.25 / 2 + 0.75 * 2 / 2 * p_b))
    assert lm.score(("zzz",), "b") == pytest.approx(math.log(p_b))          # unseen history backs off
    assert lm.score(("a",), "dog") == pytest.approx(math.log(0.75 * (0.75 * 4 / 5 / 5)))  # unknown -> <unk>
    for history in [(), ("a",), ("b",), ("x", "a")]:
        assert sum(math.exp(lm.score(history, w)) for w in lm.vocabulary) == pytest.approx(1.0)
    trigram = WordNGram.train(["one two three", "two three four", "three"], order=3)
    for history in [(), ("one",), ("one", "two"), ("two", "three")]:
        assert sum(math.exp(trigram.score(history, w)) for w in trigram.vocabulary) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="order >= 1"):
        WordNGram.train(["a"], order=0)
    with pytest.raises(ValueError, match="cannot contain spaces"):
        Lexicon.from_words(["a b"])
