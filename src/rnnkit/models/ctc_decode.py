"""Decoding CTC outputs: greedy (best path) and prefix beam search, with timestamps.

    pairs = greedy_decode(log_probs)                       # log_probs (T, C) -> [(token, frame), ...]
    pairs = prefix_beam_search(log_probs, 16, alphabet=Alphabet(), lm=WordNGram.train(texts), alpha=0.5, beta=1.0)
    text = alphabet.decode([token for token, _ in pairs])
    text = CTCDecoder(Alphabet(), lm=WordNGram.train(texts)).text(log_probs, beam=16)   # the search and decode
    seconds = frame_times([frame for _, frame in pairs], hop_length=160, sample_rate=16000)

A CTC model emits a distribution over blank + labels at every frame; an output labelling is a
frame path with repeats merged and then blanks removed (Graves et al. 2006). Greedy decoding
takes the most probable class per frame. That is the most probable *path*, not the most
probable *labelling*, which sums over all of its paths; prefix beam search (Hannun et al. 2014,
"First-pass large vocabulary continuous speech recognition using bi-directional recurrent DNNs",
algorithm 1) keeps the `beam_width` best labelling prefixes, each with the probability of its
paths ending in blank (p_b) and in its last label (p_nb). A prefix pruned from the beam drops its
paths' probability, so with a width as large as the number of prefixes the search is exact.

An optional word language model adds alpha * log P_lm(word | history) + beta each time a word is
completed (at a space, and for the last word at the end, with "</s>"), which is Deep Speech's
score log P_ctc + alpha log P_lm + beta |words| (Hannun et al. 2014, eq. 2). A lexicon instead
keeps only prefixes whose current word begins a lexicon word, and only labellings whose words
are all in it. Both need the `alphabet` to turn ids into words; leading and double spaces are
not extended then (they would complete empty words).

The frame of a token is where it is first emitted: for greedy decoding, the first frame of its
run; in beam search, the frame whose new emissions of the token carried the most probability
when the prefix was extended (on a peaky output this is the greedy frame).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from ..data.alphabet import BLANK, Alphabet
from .word_lm import EOS, Lexicon, WordLM

NEG = -math.inf


@dataclass(frozen=True)
class Hypothesis:
    tokens: tuple[int, ...]       # the labelling, repeats merged and blanks removed
    frames: tuple[int, ...]       # frame where each token is first emitted
    score: float                  # log P_ctc(tokens | x) [+ alpha log P_lm + beta |words| with an lm]


@dataclass(frozen=True)
class CTCDecoder:
    """How a CTC model's log-probabilities (T, C) become text: greedy, or prefix beam search with
    an optional word lm and lexicon; class i > 0 is alphabet.characters[i - 1]."""

    alphabet: Alphabet
    lm: WordLM | None = None
    lexicon: Lexicon | None = None
    alpha: float = 0.5
    beta: float = 1.0

    def pairs(self, log_probs: Tensor, beam: int = 0) -> list[tuple[int, int]]:
        """(character id, frame) of each output character: greedy with beam = 0."""
        if not beam:
            return greedy_decode(log_probs)
        return prefix_beam_search(log_probs, beam, alphabet=self.alphabet, lm=self.lm, alpha=self.alpha,
                                  beta=self.beta, lexicon=self.lexicon)

    def text(self, log_probs: Tensor, beam: int = 0) -> str:
        """The transcript, with single spaces between words."""
        return self.to_text(self.pairs(log_probs, beam))

    def to_text(self, pairs: Sequence[tuple[int, int]]) -> str:
        return " ".join(self.alphabet.decode([c for c, _ in pairs]).split())


def greedy_decode(log_probs: Tensor, blank: int = BLANK) -> list[tuple[int, int]]:
    """(token, frame) for each output label of the best path of log_probs (T, C)."""
    _check(log_probs, blank)
    best = log_probs.argmax(-1).tolist()                                    # (T,)
    return [(c, t) for t, c in enumerate(best) if c != blank and (t == 0 or best[t - 1] != c)]


def frame_times(frames: Sequence[int], hop_length: int, sample_rate: int, *, subsampling: int = 1) -> list[float]:
    """Seconds of output frames: a model that keeps every `subsampling`-th feature frame, on
    features with hop `hop_length` samples, puts frame t at t * subsampling * hop_length / sample_rate
    (the centre of the analysis window, with librosa's default center=True)."""
    return [t * subsampling * hop_length / sample_rate for t in frames]


def prefix_beam_search(log_probs: Tensor, beam_width: int, blank: int = BLANK, *, alphabet: Alphabet | None = None,
                       lm: WordLM | None = None, alpha: float = 0.5, beta: float = 1.0,
                       lexicon: Lexicon | None = None, min_log_prob: float = -15.0) -> list[tuple[int, int]]:
    """(token, frame) for each label of the best labelling found (empty if a lexicon allows none).
    Tune alpha and beta on validation data; they act only with an lm. Labels with log-probability
    below `min_log_prob` at a frame are not tried as extensions there (-inf tries all)."""
    found = beam_hypotheses(log_probs, beam_width, blank, alphabet=alphabet, lm=lm, alpha=alpha, beta=beta,
                            lexicon=lexicon, min_log_prob=min_log_prob)
    return list(zip(found[0].tokens, found[0].frames)) if found else []


def beam_hypotheses(log_probs: Tensor, beam_width: int, blank: int = BLANK, *, alphabet: Alphabet | None = None,
                    lm: WordLM | None = None, alpha: float = 0.5, beta: float = 1.0,
                    lexicon: Lexicon | None = None, min_log_prob: float = -15.0) -> list[Hypothesis]:
    """Up to `beam_width` hypotheses, best first (the n-best list of `prefix_beam_search`)."""
    _check(log_probs, blank)
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    words = _Words(alphabet, lm, alpha, beta, lexicon) if lm is not None or lexicon is not None else None
    beam = {(): _Entry(0.0, NEG, NEG, (), _Words.START)}
    for t, row in enumerate(log_probs.detach().double().cpu().tolist()):                # row: (C,)
        labels = [c for c, p in enumerate(row) if c != blank and p >= min_log_prob]
        beam = _step(beam, row, t, blank, labels, words)
        if t < log_probs.size(0) - 1:
            beam = dict(sorted(beam.items(), key=lambda kv: -kv[1].score())[:beam_width])
    found = []
    for prefix, e in beam.items():
        end = words.finish(e.context) if words else 0.0                                  # the last word, "</s>"
        score = _logaddexp(e.p_b, e.p_nb) + e.context[2] + end
        if score > NEG:
            found.append(Hypothesis(prefix, e.frames, score))
    return sorted(found, key=lambda h: -h.score)[:beam_width]


class _Entry:
    """A prefix's running sums; mutable and slotted because the inner loop updates it in place."""

    __slots__ = ("p_b", "p_nb", "emitted", "frames", "context")

    def __init__(self, p_b: float, p_nb: float, emitted: float, frames: tuple[int, ...], context: tuple) -> None:
        self.p_b, self.p_nb, self.emitted, self.frames, self.context = p_b, p_nb, emitted, frames, context

    def score(self) -> float:
        return _logaddexp(self.p_b, self.p_nb) + self.context[2]


def _step(beam: dict[tuple[int, ...], _Entry], row: list[float], t: int, blank: int, labels: list[int],
          words: _Words | None) -> dict[tuple[int, ...], _Entry]:
    """One frame of Hannun et al.'s algorithm 1: every prefix stays (by blank or by repeating its
    last label) or grows by one label."""
    grown: dict[tuple[int, ...], _Entry] = {}
    for prefix, e in beam.items():
        total = _logaddexp(e.p_b, e.p_nb)
        stay = _merge(grown, prefix, e.emitted, e.frames, e.context)
        stay.p_b = _logaddexp(stay.p_b, total + row[blank])
        if prefix:
            stay.p_nb = _logaddexp(stay.p_nb, e.p_nb + row[prefix[-1]])     # a repeat merges into the last label
        for c in labels:
            child = prefix + (c,)
            # after a label, the same label is new only across a blank (path ...c, blank, c)
            gain = (e.p_b if prefix and prefix[-1] == c else total) + row[c]
            if gain == NEG:
                continue
            if child in grown:
                context = grown[child].context
            elif child in beam:
                context = beam[child].context
            else:
                context = words.extend(e.context, c) if words else e.context
                if context is None:
                    continue                                                # the lexicon or spacing forbids it
            entry = _merge(grown, child, gain, e.frames + (t,), context)
            entry.p_nb = _logaddexp(entry.p_nb, gain)
    return grown


def _merge(grown: dict, prefix: tuple[int, ...], emitted: float, frames: tuple[int, ...], context: tuple) -> _Entry:
    """The entry of `prefix` in `grown`, created if new; its frames follow the largest emission seen."""
    entry = grown.get(prefix)
    if entry is None:
        entry = grown[prefix] = _Entry(NEG, NEG, emitted, frames, context)
    elif emitted > entry.emitted:
        entry.emitted, entry.frames = emitted, frames
    return entry


class _Words:
    """Word bookkeeping for the lm and lexicon. A context is (completed words, the partial word,
    the lm bonus so far: sum of alpha log P_lm + beta over completed words)."""

    START = ((), "", 0.0)

    def __init__(self, alphabet: Alphabet | None, lm: WordLM | None, alpha: float, beta: float,
                 lexicon: Lexicon | None) -> None:
        if alphabet is None or alphabet.space is None:
            raise ValueError("a word lm or lexicon needs alphabet=, an Alphabet with ' ' as the word boundary")
        self.alphabet, self.lm, self.alpha, self.beta, self.lexicon = alphabet, lm, alpha, beta, lexicon

    def extend(self, context: tuple, c: int) -> tuple | None:
        done, partial, bonus = context
        if c != self.alphabet.space:
            partial += self.alphabet.decode([c])
            allowed = self.lexicon is None or self.lexicon.allows_prefix(partial)
            return (done, partial, bonus) if allowed else None
        score = self._word(done, partial)
        return None if score == NEG else (done + (partial,), "", bonus + score)

    def finish(self, context: tuple) -> float:
        """The score of ending here: the last word (if any), then "</s>"; -inf if not allowed."""
        done, partial, _ = context
        score = self._word(done, partial) if partial else 0.0
        if self.lm is not None and score > NEG:
            score += self.alpha * self.lm.score(done + ((partial,) if partial else ()), EOS)
        return score

    def _word(self, done: tuple[str, ...], word: str) -> float:
        if not word or (self.lexicon is not None and word not in self.lexicon):
            return NEG                                                      # empty word: leading or double space
        return self.alpha * self.lm.score(done, word) + self.beta if self.lm is not None else 0.0


def _logaddexp(a: float, b: float) -> float:
    if a == NEG:
        return b
    if b == NEG:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _check(log_probs: Tensor, blank: int) -> None:
    if log_probs.dim() != 2:
        raise ValueError(f"log_probs must be (T, C) for one utterance, got shape {tuple(log_probs.shape)}; "
                         "decode a batch one utterance at a time, cut to its length")
    if not 0 <= blank < log_probs.size(1):
        raise ValueError(f"blank {blank} is outside the {log_probs.size(1)} classes of log_probs")
