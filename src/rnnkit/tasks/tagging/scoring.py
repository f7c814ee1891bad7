"""A tagger's verdicts on a split, its metrics and report, and the baseline a practitioner tries
first: each word's most frequent training tag (unknown words: the most frequent tag overall).

Metrics: token accuracy always; with a chunk scheme (named entities) entity-level precision,
recall and F1 as conlleval counts them, on the predictions read as conlleval reads them (a BIOES
prediction is scored as the IOB2 chunks it marks).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...data.batch import Batch
from ...data.conll import Sentence
from ...data.tag_metrics import entity_scores, token_accuracy
from ...data.tag_schemes import repair
from ..base import Metrics
from ..classification.metrics import confusion_matrix, report
from .data import normal


def trim(batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """(inputs (B, L', 1 + C), lengths, targets (B, L')) cut to the batch's longest sentence."""
    steps = int(batch.lengths.max())
    return batch.inputs[:, :steps], batch.lengths, batch.targets[:, :steps]


@dataclass(frozen=True)
class Outcome:
    """Summed loss over the sentences, and each sentence's gold and predicted tag ids."""

    total: float
    gold: list[list[int]]
    predicted: list[list[int]]

    def metrics(self, tags: Sequence[str], scheme: str) -> Metrics:
        return score(self.gold, self.predicted, tags, scheme, loss=self.total / max(len(self.gold), 1))

    def report(self, tags: Sequence[str], scheme: str) -> str:
        """Per-tag precision/recall/F1 over tokens; with a scheme, per entity type as well."""
        gold, predicted = torch.tensor(flat(self.gold)), torch.tensor(flat(self.predicted))
        text = report(gold, predicted, list(tags))
        if scheme:
            from seqeval.metrics import classification_report

            text += "\n\nentities (conlleval counting):\n" + classification_report(
                as_read(self.gold, tags, scheme), as_read(self.predicted, tags, scheme), digits=4, zero_division=0)
        return text

    def confusion(self, num_tags: int) -> Tensor:
        return confusion_matrix(torch.tensor(flat(self.gold)), torch.tensor(flat(self.predicted)), num_tags)


def outcome(model: nn.Module, batches: Iterable[Batch]) -> Outcome:
    """The tagger's pass over `batches` (call it in eval mode without gradients): Viterbi under a CRF."""
    core = getattr(model, "module", model)              # the loop may hand over a DDP wrapper
    total, gold, predicted = 0.0, [], []
    for batch in batches:
        inputs, lengths, targets = trim(batch)
        scores = model(inputs, lengths)                                        # (B, L, T)
        total += core.loss(scores, targets, lengths).item() * len(lengths)
        predicted += core.decode(scores, lengths)
        gold += [row[:n].tolist() for row, n in zip(targets, lengths.tolist())]
    return Outcome(total, gold, predicted)


def score(gold: list[list[int]], predicted: list[list[int]], tags: Sequence[str], scheme: str, *,
          loss: float | None = None) -> Metrics:
    """Entity F1, precision, recall (with a scheme; F1 first, early stopping's default) and token accuracy."""
    metrics: Metrics = {}
    if scheme:
        entities = entity_scores(as_read(gold, tags, scheme), as_read(predicted, tags, scheme))
        metrics.update({"f1": entities["f1"], "precision": entities["precision"], "recall": entities["recall"]})
    metrics["accuracy"] = token_accuracy(gold, predicted)
    if loss is not None:
        metrics["loss"] = loss
    return metrics


def as_read(rows: list[list[int]], tags: Sequence[str], scheme: str) -> list[list[str]]:
    """Tag id sequences as IOB2 tag names, read as conlleval reads them (tag_schemes.repair)."""
    return [repair([tags[i] for i in row], scheme) for row in rows]


def flat(rows: list[list[int]]) -> list[int]:
    return [i for row in rows for i in row]


def majority_baseline(train: Sequence[Sentence], scored: Sequence[Sentence], tags: Sequence[str], scheme: str, *,
                      lowercase: bool, digits: bool) -> Metrics:
    """Each word's most frequent training tag (its normal form, as the tagger's vocabulary reads
    it); a word never seen in training gets the most frequent tag overall."""
    counts: dict[str, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    for words, ts in train:
        for w, t in zip(words, ts):
            counts[normal(w, lowercase, digits)][t] += 1
            overall[t] += 1
    best = {w: c.most_common(1)[0][0] for w, c in counts.items()}
    default = overall.most_common(1)[0][0]
    ids = {t: i for i, t in enumerate(tags)}
    gold = [[ids[t] for t in ts] for _, ts in scored]
    predicted = [[ids[best.get(normal(w, lowercase, digits), default)] for w in words] for words, _ in scored]
    return score(gold, predicted, tags, scheme)
