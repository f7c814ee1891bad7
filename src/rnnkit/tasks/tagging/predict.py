"""Predictions of a tagging run: each word's tag, with the probability of every tag (the CRF's
marginals, or the softmax), for sentences given as token lists or whitespace-separated strings.

    run = rnnkit.load("runs/ner_conll03_bilstm_crf")
    [s] = run.predict(["John lives in New York"])
    s.tags                          # ["B-PER", "O", "O", "B-LOC", "I-LOC"]  (the files' scheme)
    s.probability                   # each word's probability of its model tag
    s.probabilities[3]              # {"O": 0.01, "B-LOC": 0.97, ...} over the model's tags

With a CRF the tags are the Viterbi path (the best sequence), so a word's tag need not be its most
probable marginal one. With a chunk scheme the model's tags (e.g. BIOES) are written back in the
scheme of the training files, read as conlleval reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ...data.tag_schemes import convert, repair
from .data import Encoding

BATCH = 128                 # sentences per forward pass


@dataclass(frozen=True)
class TaggedSentence:
    words: list[str]
    tags: list[str]                             # in the scheme of the training files
    probability: list[float]                    # each word's probability of the model tag it got
    probabilities: list[dict[str, float]]       # each word's probability of every model tag

    def to_dict(self) -> dict:
        return asdict(self)


class TagPredictor:
    def __init__(self, model: nn.Module, encoding: Encoding, *, scheme: str = "", train_scheme: str = "BIOES") -> None:
        self.model, self.encoding, self.scheme, self.train_scheme = model, encoding, scheme, train_scheme

    def predict(self, sentences: Sequence[str] | Sequence[Sequence[str]]) -> list[TaggedSentence]:
        """Sentences as strings (split at whitespace) or token lists; an empty one is an error naming it."""
        tokens = [s.split() if isinstance(s, str) else list(s) for s in sentences]
        for i, words in enumerate(tokens):
            if not words:
                raise ValueError(f"sentence {i + 1} has no tokens; give each sentence at least one word")
            if not all(isinstance(w, str) and w and not any(c.isspace() for c in w) for w in words):
                raise ValueError(f"sentence {i + 1}: tokens must be non-empty strings without whitespace")
        out: list[TaggedSentence] = []
        self.model.eval()
        with torch.no_grad():
            for start in range(0, len(tokens), BATCH):
                out += self._batch(tokens[start:start + BATCH])
        return out

    def _batch(self, tokens: list[list[str]]) -> list[TaggedSentence]:
        inputs, lengths = self.encoding.encode(tokens)
        scores = self.model(inputs, lengths)                                   # (B, L, T)
        paths = self.model.decode(scores, lengths)
        marginals = self.model.probabilities(scores, lengths).float()          # (B, L, T)
        names = self.encoding.tags
        out = []
        for b, (words, path) in enumerate(zip(tokens, paths)):
            p = marginals[b, :len(words)]
            tags = [names[i] for i in path]
            if self.scheme:                     # the model's scheme -> the files' (repair reads as conlleval)
                tags = convert(repair(tags, self.train_scheme), "IOB2", self.scheme)
            out.append(TaggedSentence(words, tags, [float(p[t, i]) for t, i in enumerate(path)],
                                      [dict(zip(names, row)) for row in p.tolist()]))
        return out
