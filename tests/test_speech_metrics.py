"""WER and CER (jiwer) against hand-counted edits."""

from __future__ import annotations

import pytest

from rnnkit.tasks.speech.metrics import cer, wer, word_accuracy, word_errors

pytest.importorskip("jiwer")


def test_wer_counts_edits_over_all_reference_words():
    assert wer(["the cat sat"], ["the cat sat down"]) == pytest.approx(1 / 3)     # one insertion
    assert wer(["a b c d"], ["a x c"]) == pytest.approx(2 / 4)                    # substitution + deletion
    # corpus level: (1 + 1) / 5, not the mean of the per-utterance rates (1/3 + 1/2) / 2
    assert wer(["a b c", "d e"], ["a x c", "d e f"]) == pytest.approx(2 / 5)
    assert wer(["one"], ["one two three"]) == pytest.approx(2.0)                  # can exceed 1
    assert word_errors(["a b c d", "e"], ["a x c", "e f"]) == {
        "substitutions": 1, "deletions": 1, "insertions": 1, "hits": 3, "words": 5}


def test_cer_counts_characters_with_spaces():
    assert cer(["three one four"], ["three one for"]) == pytest.approx(1 / 14)
    assert cer(["abc", "de"], ["axc", "def"]) == pytest.approx(2 / 5)
    assert cer(["ab"], ["a b"]) == pytest.approx(1 / 2)                           # an inserted space counts


def test_extra_whitespace_is_not_an_error():
    assert wer([" a  b "], ["a b"]) == 0.0 and cer(["a  b"], ["a b "]) == 0.0


def test_word_accuracy_is_exact_match():
    assert word_accuracy(["one", "two", "three"], ["one", "too", "three "]) == pytest.approx(2 / 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        wer(["a", "b"], ["a"])
    with pytest.raises(TypeError, match="wrap a single one in a list"):
        cer("abc", "abd")
    with pytest.raises(ValueError, match="no transcripts"):
        word_accuracy([], [])
