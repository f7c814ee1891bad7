"""Predictions of a classification run: its labels with every class's probability, for raw
texts (a text run) or (T, C) feature sequences (a sequence run, either encoder).

    run = rnnkit.load("runs/classify_uci_bigru")
    [p] = run.predict(["the food was great"])
    p.label, p.probabilities                 # "1", {"0": 0.08, "1": 0.92}
    p.tokens, p.attention                    # the words read, and their attention-pooling weights
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ...data.labelled import check_sequences, encode_texts, normalize_text, pad
from ...data.text import Vocab
from ...models.classifier import SequenceClassifier
from ._common import Outcome
from .ngrams import NgramLogReg
from .text_select import NETWORK, combine

BATCH = 256                 # sequences per padded forward pass


@dataclass(frozen=True)
class Prediction:
    label: str                              # the most probable class
    probabilities: dict[str, float]         # every class's, in the run's class order
    tokens: list[str] | None = None         # a text as the model read it (unknown tokens as written)
    attention: list[float] | None = None    # attention pooling: each step's weight (they sum to 1)


def scores(model: nn.Module, series: Sequence[Tensor]) -> tuple[Tensor, list[Tensor] | None]:
    """(class probabilities (N, C), each sequence's attention weights (T_i,) or None) of (T,)
    token ids or raw (T, C) features (the model standardises them), in padded batches."""
    probabilities, weights = [], []
    with torch.no_grad():
        for start in range(0, len(series), BATCH):
            x, lengths = pad(series[start:start + BATCH])
            if isinstance(model, SequenceClassifier):
                logits, w = model.scores(x, lengths)                      # (B, C), (B, T) or None
            else:                                                         # an echo state classifier
                logits, w = model(x, None, lengths)[0], None
            probabilities.append(torch.softmax(logits.float(), dim=-1))
            if w is not None:
                weights += [row[:n] for row, n in zip(w, lengths.tolist())]
    if not probabilities:
        return torch.empty(0, 0), None
    return torch.cat(probabilities), weights or None


def predictions(classes: Sequence[str], probabilities: Tensor, weights: list[Tensor] | None = None,
                tokens: list[list[str]] | None = None) -> list[Prediction]:
    out = []
    for i, p in enumerate(probabilities.tolist()):
        out.append(Prediction(classes[max(range(len(p)), key=p.__getitem__)], dict(zip(classes, p)),
                              None if tokens is None else tokens[i],
                              None if weights is None else weights[i].tolist()))
    return out


class TextPredictor:
    """A text run: texts are normalised and tokenised as in training (the run's vocabulary,
    cut to its max_length); an empty text is an error naming its row. With a validated selection
    (text_select.py) other than the network, the probabilities are those of the chosen candidate:
    the n-gram model's, or the blend of both; the tokens and attention weights stay the network's."""

    def __init__(self, model: nn.Module, classes: Sequence[str], vocab: Vocab, *, max_length: int = 0,
                 ngrams: NgramLogReg | None = None, choice: str = NETWORK,
                 weights: Mapping[str, float] | None = None) -> None:
        self.model, self.classes, self.vocab, self.max_length = model, list(classes), vocab, max_length
        if choice != NETWORK and ngrams is None:
            raise ValueError(f"the run chose {choice!r} on validation, which needs its n-gram model")
        self.ngrams, self.choice, self.weights = ngrams, choice, weights

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """texts -> one Prediction each, with its tokens (and their weights under attention pooling)."""
        normal, ids = self._encode(texts)
        probabilities, weights = scores(self.model, ids)
        tokens = [self.vocab.split(n)[: len(i)] for n, i in zip(normal, ids)]
        return predictions(self.classes, self._chosen(probabilities, normal), weights, tokens)

    def probabilities(self, texts: Sequence[str]) -> Tensor:
        """(N, C) class probabilities of the texts."""
        normal, ids = self._encode(texts)
        return self._chosen(scores(self.model, ids)[0], normal)

    def normalised_probabilities(self, normal: Sequence[str]) -> Tensor:
        """(N, C) class probabilities of texts normalised already (a split's texts as load() keeps them)."""
        return self._chosen(scores(self.model, encode_texts(list(normal), self.vocab, self.max_length))[0], normal)

    def _chosen(self, network: Tensor, normal: Sequence[str]) -> Tensor:
        if self.choice == NETWORK or not len(normal):
            return network
        assert self.ngrams is not None
        chosen = combine(self.choice, network.double().numpy(), self.ngrams.probabilities(list(normal)), self.weights)
        return torch.from_numpy(chosen).to(network.dtype)

    def _encode(self, texts: Sequence[str]) -> tuple[list[str], list[Tensor]]:
        if isinstance(texts, str):
            raise TypeError("predict takes a list of texts; wrap one text in a list: predict([text])")
        normal = [normalize_text(t) for t in texts]
        return normal, encode_texts(normal, self.vocab, self.max_length)


class SequencePredictor:
    """A sequence run: raw (T, C) feature sequences of any lengths (standardised by the model
    with its training split's statistics); a sequence of another width or with NaN is an error
    naming it."""

    def __init__(self, model: nn.Module, classes: Sequence[str], *, num_features: int, rocket: Any = None) -> None:
        self.model, self.classes, self.num_features, self.rocket = model, list(classes), num_features, rocket

    def predict(self, sequences: Sequence[Any] | Tensor | np.ndarray) -> list[Prediction]:
        """A list of (T_i, C) arrays or tensors, or one (N, T, C) array -> one Prediction each
        (with attention weights under attention pooling)."""
        series = self._series(sequences)
        if self.rocket is not None:
            return predictions(self.classes, self._rocket(series))
        return predictions(self.classes, *scores(self.model, series))

    def probabilities(self, sequences: Sequence[Any] | Tensor | np.ndarray) -> Tensor:
        """(N, C) class probabilities of the sequences; 1 for the predicted class and 0 for the
        others where the run kept MiniRocket + ridge (`rocket`), whose ridge gives no probabilities."""
        series = self._series(sequences)
        return self._rocket(series) if self.rocket is not None else scores(self.model, series)[0]

    def _rocket(self, series: list[Tensor]) -> Tensor:
        predicted = self.rocket.predict_sequences(series)                          # (N,)
        return torch.nn.functional.one_hot(predicted, len(self.classes)).float()  # (N, C)

    def _series(self, sequences: Sequence[Any] | Tensor | np.ndarray) -> list[Tensor]:
        if isinstance(sequences, (Tensor, np.ndarray)) and sequences.ndim != 3:
            raise ValueError(f"expected a list of (time, features) sequences or one (sequences, time, features) "
                             f"array, got shape {tuple(sequences.shape)}")
        series = [torch.as_tensor(np.asarray(s) if not isinstance(s, Tensor) else s, dtype=torch.float32)
                  for s in sequences]
        check_sequences(series, self.num_features)
        return series


def text_outcome(probabilities: Tensor, y: Tensor) -> Outcome:
    """An Outcome (summed cross-entropy, targets, predicted classes) from (N, C) probabilities."""
    p = probabilities.double()[torch.arange(len(y)), y].clamp_min(1e-15)    # as baselines.scores clips
    return Outcome(float(-p.log().sum()), y, probabilities.argmax(-1))
