"""Speech recognition metrics, computed with jiwer over a whole test set.

    wer(["three one four"], ["three one for"])            # 1/3: one substitution in three words
    cer(["three one four"], ["three one for"])            # 1/14: one deletion in 14 characters

WER and CER are corpus-level: the edit operations (substitutions S, deletions D, insertions I)
of the minimum-edit alignment of every pair, summed, over the number N of reference words or
characters, (S + D + I) / N; this weights long utterances more than averaging per-utterance
rates would, and is how speech benchmarks report them. Spaces count as characters in CER.
Texts are compared as given, apart from whitespace: normalize (data.alphabet.normalize) both
sides first if case or punctuation should not count.
"""

from __future__ import annotations

from collections.abc import Sequence


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Word error rate (S + D + I) / N over all pairs; can exceed 1 with many insertions."""
    _check(refs, hyps)
    return float(_jiwer().wer(_clean(refs), _clean(hyps)))


def cer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Character error rate (S + D + I) / N over all pairs, N counting reference characters."""
    _check(refs, hyps)
    return float(_jiwer().cer(_clean(refs), _clean(hyps)))


def word_errors(refs: Sequence[str], hyps: Sequence[str]) -> dict[str, int]:
    """The word-level counts behind WER: substitutions, deletions, insertions, hits, and the
    number of reference words (hits + substitutions + deletions)."""
    _check(refs, hyps)
    out = _jiwer().process_words(_clean(refs), _clean(hyps))
    counts = {"substitutions": out.substitutions, "deletions": out.deletions, "insertions": out.insertions,
              "hits": out.hits}
    counts["words"] = counts["hits"] + counts["substitutions"] + counts["deletions"]
    return {k: int(v) for k, v in counts.items()}


def word_accuracy(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """The fraction of utterances transcribed exactly (whitespace aside): accuracy for isolated
    words, sentence accuracy for connected speech."""
    _check(refs, hyps)
    return sum(r == h for r, h in zip(_clean(refs), _clean(hyps))) / len(refs)


def _clean(texts: Sequence[str]) -> list[str]:
    return [" ".join(t.split()) for t in texts]          # jiwer would count an extra space as a character


def _check(refs: Sequence[str], hyps: Sequence[str]) -> None:
    if isinstance(refs, str) or isinstance(hyps, str):
        raise TypeError("refs and hyps are lists of transcripts; wrap a single one in a list")
    if len(refs) != len(hyps):
        raise ValueError(f"got {len(refs)} references but {len(hyps)} hypotheses; they must pair up one to one")
    if not refs:
        raise ValueError("no transcripts to score (refs and hyps are empty)")


def _jiwer():
    try:
        import jiwer
    except ImportError as err:                           # an optional dependency: the speech extra
        raise ImportError("WER/CER need jiwer: pip install 'rnnkit[speech]' (or pip install jiwer)") from err
    return jiwer
