"""The CTC alphabet: ids with blank 0, errors that name bad characters and utterances, feasibility."""

from __future__ import annotations

import pytest

from rnnkit.data.alphabet import Alphabet, check_ctc_feasible, ctc_frames_needed, normalize


def test_blank_is_zero_and_ids_follow_the_characters():
    alphabet = Alphabet()
    assert len(alphabet) == 29 and alphabet.blank == 0 and alphabet.space == 1
    ids = alphabet.encode("three one")
    assert ids == [21, 9, 19, 6, 6, 1, 16, 15, 6]
    assert alphabet.decode(ids) == "three one"
    assert alphabet.decode([0, 2, 0, 3]) == "ab"                    # blanks are skipped
    assert alphabet.encode("don't") == [5, 16, 15, 28, 21]
    assert Alphabet("ab").space is None


def test_characters_outside_the_alphabet_are_named_with_the_utterance():
    with pytest.raises(ValueError, match=r"in spk3/utt-17\.wav .*\['3', 'T'\]"):
        Alphabet().encode("Twenty 3", name="spk3/utt-17.wav")
    with pytest.raises(ValueError, match=r"outside the alphabet: \['!'\]"):
        Alphabet().encode("hi!")


def test_bad_alphabets_and_ids():
    with pytest.raises(ValueError, match=r"repeated: \['a'\]"):
        Alphabet("aba")
    with pytest.raises(ValueError, match="at least one"):
        Alphabet("")
    with pytest.raises(ValueError, match="outside this alphabet's range 0..3"):
        Alphabet("abc").decode([4])


def test_normalize():
    assert normalize("  Don\u2019t   STOP\tnow \n") == "don't stop now"
    assert normalize("") == ""


def test_ctc_needs_a_blank_between_repeated_labels():
    assert ctc_frames_needed("three") == 6                          # t h r e _ e
    assert ctc_frames_needed([1, 1, 1]) == 5
    assert ctc_frames_needed([]) == 0
    check_ctc_feasible(6, "three", "utt-1")
    with pytest.raises(ValueError, match=r"utt-9: 5 input frames .* 5-label .*1 repeated .*6 frames are needed"):
        check_ctc_feasible(5, "three", "utt-9")
    with pytest.raises(ValueError, match="^2 input frames"):
        check_ctc_feasible(2, [3, 4, 5])
