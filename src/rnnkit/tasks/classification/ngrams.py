"""A bag of word 1-2-grams + logistic regression as a saved model: what a text run keeps when its
validated selection (text_select.py) chose the n-grams, alone or pooled with the network.

scikit-learn fits it (nb_logreg.fit_nb_logreg; baselines.fit_tfidf_logreg for the TF-IDF kind);
this class holds only its numbers, so a run reads it back from RUN_DIR/ngrams.safetensors without
pickle and without scikit-learn:

    words      the unigram vocabulary, in feature order (the first len(words) features)
    bigrams    (F2, 2) int64: each bigram feature as two indices into `words` (features len(words)...)
    idf        (F,) float64 inverse document frequencies (kind "nb": ones, unused)
    coef       (K, F) float64, intercept (K,): the logistic regression(s); K = 1 for two classes (sigmoid)
    classes    (K or 2,) int64: the class ids the regression saw, its columns of the (N, C) output
    kind       "tfidf" or "nb" (metadata; a file without it is "tfidf", as rnnkit wrote them first)

Kind "tfidf": scikit-learn's TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\\S+",
lowercase=False, sublinear_tf=True) of the already normalised texts: counts of each known unigram
and bigram, 1 + log(count), times idf, each row scaled to unit length; a multinomial regression
(softmax) over more than two classes.

Kind "nb" (nb_logreg.py): whether each known n-gram occurs (0/1), the features of NBSVM (Wang &
Manning 2012), whose per-feature naive Bayes log-count ratios r are folded into coef (x (r * w) =
(x * r) w); more than two classes are one regression per class against the rest, their
probabilities normalised to sum to one (scikit-learn's one-vs-rest).

n-grams never seen in training are dropped. Every bigram's two words are unigrams of training (no
min_df), so a pair of word indices names it. tests/test_text_select.py holds the probabilities of
both kinds equal to scikit-learn's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ...io.arrays import load_arrays, save_arrays

NGRAMS_FILE = "ngrams.safetensors"
KINDS = ("tfidf", "nb")


@dataclass(frozen=True)
class NgramLogReg:
    words: list[str]
    bigrams: np.ndarray
    idf: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray
    num_classes: int
    kind: str = "tfidf"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"an n-gram model's kind must be one of {list(KINDS)}, got {self.kind!r}")

    @classmethod
    def from_sklearn(cls, tfidf: Any, model: Any, num_classes: int) -> NgramLogReg:
        """From a fitted TfidfVectorizer (the settings above) and LogisticRegression."""
        f64 = np.float64
        return cls.from_vocabulary(tfidf.vocabulary_, np.asarray(tfidf.idf_, f64), np.asarray(model.coef_, f64),
                                   np.asarray(model.intercept_, f64), np.asarray(model.classes_, np.int64),
                                   num_classes, "tfidf")

    @classmethod
    def from_vocabulary(cls, vocabulary: dict[str, int], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                        classes: np.ndarray, num_classes: int, kind: str) -> NgramLogReg:
        """From a scikit-learn vectorizer's vocabulary_ ("word" / "word word" -> column) and the
        arrays in its column order: idf (F,), coef (K, F), intercept (K,)."""
        names = sorted(vocabulary, key=vocabulary.__getitem__)
        unigrams = [n for n in names if " " not in n]
        index = {w: i for i, w in enumerate(unigrams)}
        pairs = [n.split(" ") for n in names if " " in n]
        bigrams = np.array([[index[a], index[b]] for a, b in pairs], dtype=np.int64).reshape(-1, 2)
        # our feature order: unigrams, then bigrams; columns of idf and coef follow it
        order = np.array([vocabulary[n] for n in unigrams] + [vocabulary[f"{a} {b}"] for a, b in pairs], dtype=np.int64)
        return cls(unigrams, bigrams, idf[order], coef[:, order], intercept, classes, num_classes, kind)

    @cached_property
    def _index(self) -> tuple[dict[str, int], dict[tuple[int, int], int]]:
        """(word -> feature, (word, word) -> feature), built once: a served run reuses them per request."""
        word = {w: i for i, w in enumerate(self.words)}
        pair = {(a, b): len(self.words) + j for j, (a, b) in enumerate(self.bigrams.tolist())}
        return word, pair

    def features(self, texts: list[str]) -> sp.csr_matrix:
        """(N, F) rows of normalised texts (words split at whitespace): TF-IDF, or for kind "nb"
        0/1 indicators."""
        word, pair = self._index
        rows, cols = [], []
        for r, text in enumerate(texts):
            ids = [word.get(t, -1) for t in text.split()]
            grams = [i for i in ids if i >= 0]
            grams += [pair[p] for p in zip(ids, ids[1:]) if p in pair]
            rows += [r] * len(grams)
            cols += grams
        counts = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(texts), len(self.idf)))
        counts.sum_duplicates()
        if self.kind == "nb":
            counts.data[:] = 1.0
            return counts
        counts.data = (1.0 + np.log(counts.data)) * self.idf[counts.indices]
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1))).ravel()
        return sp.csr_matrix(sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ counts)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(N, C) class probabilities (zero for a class the regression never saw)."""
        z = self.features(texts) @ self.coef.T + self.intercept                      # (N, K)
        if self.coef.shape[0] == 1:                                                  # two classes: a sigmoid
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            seen = np.stack([1.0 - p1, p1], axis=1)
        elif self.kind == "nb":                                                      # one against the rest
            each = 1.0 / (1.0 + np.exp(-z))
            seen = each / each.sum(axis=1, keepdims=True)
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            seen = e / e.sum(axis=1, keepdims=True)
        out = np.zeros((len(texts), self.num_classes))
        out[:, self.classes] = seen
        return out

    def save(self, path: str | Path) -> None:
        save_arrays(path, {"bigrams": self.bigrams, "idf": self.idf, "coef": self.coef, "intercept": self.intercept,
                           "classes": self.classes},
                    {"words": json.dumps(self.words, ensure_ascii=False), "num_classes": str(self.num_classes),
                     "kind": self.kind})

    @classmethod
    def load(cls, path: str | Path) -> NgramLogReg:
        t, metadata = load_arrays(path)
        return cls(json.loads(metadata["words"]), t["bigrams"], t["idf"], t["coef"], t["intercept"], t["classes"],
                   int(metadata["num_classes"]), metadata.get("kind", "tfidf"))
