"""Word-level knowledge for CTC beam search: a smoothed word n-gram model and a lexicon.

    lm = WordNGram.train(["three one four", "one five nine"], order=2)
    lm.score(("three",), "one")              # natural-log P(one | three)
    lexicon = Lexicon.from_words(["zero", "one", "two"])
    lexicon.allows_prefix("tw"), "two" in lexicon                # True, True

`WordNGram` is interpolated Kneser-Ney smoothing (Kneser & Ney 1995; the interpolated form of
Chen & Goodman 1999, eq. 17): for an n-gram with history h,

    P(w | h) = max(c(h, w) - D, 0) / c(h, ·) + D · N1+(h, ·) / c(h, ·) · P(w | h')

where h' drops the oldest word, c is the raw count at the highest order and the continuation
count N1+(·, h, w) (how many distinct words precede h w) below it, and the recursion ends in a
uniform distribution over the vocabulary plus "<unk>". Any object with `order` and
`score(history, word)` can stand in for it (a `WordLM`), e.g. a wrapper around a KenLM model.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


class WordLM(Protocol):
    """What beam search needs of a word language model."""

    order: int

    def score(self, history: tuple[str, ...], word: str) -> float:
        """Natural-log P(word | history): the words before `word` in its sentence, oldest first
        (any number; the model reads the last order - 1). Word "</s>" ends the sentence."""
        ...


@dataclass(frozen=True)
class WordNGram:
    order: int
    discount: float
    vocabulary: frozenset[str]
    counts: tuple[dict[tuple[str, ...], Counter], ...]      # counts[k][history of k words][word]
    totals: tuple[dict[tuple[str, ...], int], ...] = field(init=False, repr=False, compare=False)   # c(h, ·)

    def __post_init__(self) -> None:
        # c(h, ·) once per history: summing a Counter per call costs O(vocabulary) at the short histories
        totals = tuple({h: sum(following.values()) for h, following in level.items()} for level in self.counts)
        object.__setattr__(self, "totals", totals)

    @classmethod
    def train(cls, texts: Iterable[str], *, order: int = 3, discount: float = 0.75) -> WordNGram:
        """Counts the space-separated words of each text (one sentence each). D = 0.75 is the
        single discount Chen & Goodman found close to the best estimate for most orders."""
        if order < 1 or not 0 < discount < 1:
            raise ValueError(f"need order >= 1 and 0 < discount < 1, got {order}, {discount}")
        top: dict[tuple[str, ...], Counter] = defaultdict(Counter)
        vocabulary = set()
        for text in texts:
            words = text.split()
            vocabulary.update(words)
            padded = [BOS] * (order - 1) + words + [EOS]
            for i in range(order - 1, len(padded)):
                top[tuple(padded[i - order + 1:i])][padded[i]] += 1
        if not vocabulary:
            raise ValueError("WordNGram.train needs at least one text with words")
        counts = [dict(top)]
        for _ in range(order - 1):                          # continuation counts, one order down at a time
            lower: dict[tuple[str, ...], Counter] = defaultdict(Counter)
            for history, following in counts[0].items():
                for word in following:
                    lower[history[1:]][word] += 1          # one more distinct word precedes history[1:] + word
            counts.insert(0, dict(lower))
        return cls(order, discount, frozenset(vocabulary | {EOS, UNK}), tuple(counts))

    def score(self, history: tuple[str, ...], word: str) -> float:
        """Natural-log P(word | history); a history shorter than order - 1 is a sentence start."""
        word = word if word in self.vocabulary else UNK
        history = tuple(history[len(history) - self.order + 1:]) if self.order > 1 else ()
        history = (BOS,) * (self.order - 1 - len(history)) + history
        return math.log(self._probability(history, word))

    def _probability(self, history: tuple[str, ...], word: str) -> float:
        lower = 1.0 / len(self.vocabulary) if not history else self._probability(history[1:], word)
        following = self.counts[len(history)].get(history)
        if not following:
            return lower                                   # unseen history: back off entirely
        total = self.totals[len(history)][history]
        seen = max(following.get(word, 0) - self.discount, 0.0) / total
        return seen + self.discount * len(following) / total * lower


@dataclass(frozen=True)
class Lexicon:
    """The words beam search may complete, with every prefix of them for pruning partial words."""

    words: frozenset[str]
    prefixes: frozenset[str]

    @classmethod
    def from_words(cls, words: Iterable[str]) -> Lexicon:
        words = frozenset(w for w in words if w)
        if not words:
            raise ValueError("a Lexicon needs at least one non-empty word")
        if any(" " in w for w in words):
            raise ValueError("lexicon words cannot contain spaces (the space is the word boundary)")
        return cls(words, frozenset(w[:i] for w in words for i in range(len(w) + 1)))

    def allows_prefix(self, partial: str) -> bool:
        return partial in self.prefixes

    def __contains__(self, word: object) -> bool:
        return word in self.words
