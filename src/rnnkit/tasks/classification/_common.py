"""What text and sequence classification share: settings, the recurrent classifier, the loss
and the evaluation. `outcome` is the evaluation's one pass over a split; `evaluate` turns it
into metrics and `rnnkit classify eval` into its report and confusion matrix as well.

Metrics: loss (mean cross-entropy, unweighted), accuracy and macro-F1 (the unweighted mean of
per-class F1 over the classes present in targets or predictions, as scikit-learn computes it).
`class_weights = "balanced"` weighs the loss of class c by N / (C n_c) (King & Zeng 2001): the
weights come from the training labels in `describe`, so they are kept in meta.json.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import ModelConfig
from ...data.batch import Batch, Splits
from ...data.labelled import FILLER, bucketed, split_fractions
from ...layers.differences import Differences
from ...layers.pooling import FIXED_POOLINGS, POOLINGS
from ...models.classifier import SequenceClassifier
from ...models.stack import build_rnn
from ..base import Meta, Metrics
from .metrics import accuracy, balanced_weights, macro_f1


@dataclass(frozen=True)
class LabelledSplits(Splits):
    meta: dict | None = None        # classes, vocab or feature statistics: what `describe` starts from
    # text tasks: each split's normalised texts and class ids (N,) in source order, which the
    # baselines read (the batches hold token ids, and bucketing reorders them)
    texts: dict[str, tuple[list[str], Tensor]] | None = None


@dataclass(frozen=True)
class Part:
    """One split before encoding: its inputs, labels, and what identifies each example in
    split.json: its row in `file` (0 = the first example), or its path under the data folder."""

    inputs: list
    labels: list[str]
    keys: list
    file: str = ""                  # the name of the file the rows index; "" where keys are paths

    def pick(self, index: list[int]) -> Part:
        return Part([self.inputs[i] for i in index], [self.labels[i] for i in index],
                    [self.keys[i] for i in index], self.file)


@dataclass(frozen=True)
class Outcome:
    """A model's verdicts on a split: the summed cross-entropy, and the targets and predicted
    classes (N,) of its real rows (a bucketed split's filler rows dropped)."""

    total: float
    targets: Tensor
    predictions: Tensor

    def metrics(self) -> Metrics:
        y, p = self.targets, self.predictions
        return {"loss": self.total / len(y), "accuracy": accuracy(y, p), "macro_f1": macro_f1(y, p)}


def outcome(model: nn.Module, batches: Iterable[Batch]) -> Outcome:
    """The evaluation's pass over `batches` (call it in eval mode without gradients)."""
    total, targets, predictions = 0.0, [], []
    for batch in batches:
        inputs, lengths, y = trimmed(batch)
        logits, _ = model(inputs, None, lengths)                                   # (B, C)
        total += F.cross_entropy(logits.float(), y, reduction="sum", ignore_index=FILLER).item()
        targets.append(y.cpu())
        predictions.append(logits.argmax(-1).cpu())
    y, p = torch.cat(targets), torch.cat(predictions)
    return Outcome(total, y[y != FILLER], p[y != FILLER])


def trimmed(batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """(inputs cut to the batch's longest sequence, lengths, targets); a bucketed batch of
    (K, B, ...) examples is flattened to K B examples first."""
    x, n, y = batch.inputs, batch.lengths, batch.targets
    if y.dim() == 2:
        x, n, y = x.flatten(0, 1), n.flatten(), y.flatten()
    return x[:, :int(n.max())], n, y


def statistics(meta: Meta) -> dict[str, Tensor]:
    """The training split's feature mean and std, as the models' keyword arguments (none if unused)."""
    if meta.get("mean") is None:
        return {}
    return {"feature_mean": torch.tensor(meta["mean"]), "feature_std": torch.tensor(meta["std"])}


def differences_of(meta: Meta) -> Differences | None:
    """The first-difference channels of sequence classification (task.differences), or None."""
    stats = meta.get("differences")
    return None if not stats else Differences(torch.tensor(stats["mean"]), torch.tensor(stats["std"]))


@dataclass(frozen=True)
class Classification:
    """Settings shared by both tasks (each subclass adds where its data comes from)."""

    path: str = ""                  # "imdb" / "japanese_vowels" / "fashion_mnist", or your file or folder: texts
                                    # .csv .tsv .jsonl; sequences .ts .arff .npz, NAME_TRAIN.ts + NAME_TEST.ts,
                                    # or <label>/*.csv
    pooling: str = "last"           # last, max, mean, attention
    attention_size: int = 0         # 0 = the rnn's output size
    dropout: float = 0.0            # on the pooled vector, before the linear layer
    class_weights: str = "none"     # none, balanced
    valid_fraction: float = 0.1     # of the training data, when the source has no validation split
    test_fraction: float = 0.1      # of a single file, when the source has no test split
    seed: int = 0                   # the data's own seed (splits), whatever the run's seed
    bucket_size: int = 0            # > 0: fixed length-bucketed batches; train.batch_size then counts them

    carries_state = False

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("task.path is required: a dataset name or a path to your data")
        reservoir = getattr(self, "encoder", "rnn") == "reservoir"
        poolings = list(FIXED_POOLINGS if reservoir else POOLINGS)
        if self.pooling not in poolings:
            raise ValueError(f"task.pooling must be one of {poolings}{' with a reservoir encoder' * reservoir}, "
                             f"got {self.pooling!r}")
        if self.class_weights not in ("none", "balanced"):
            raise ValueError(f"task.class_weights must be 'none' or 'balanced', got {self.class_weights!r}")
        if not (0 <= self.dropout < 1 and 0 < self.valid_fraction < 1 and 0 <= self.test_fraction < 1):
            raise ValueError("task.dropout must be in [0, 1), valid_fraction in (0, 1), test_fraction in [0, 1)")
        if self.attention_size < 0 or self.bucket_size < 0:
            raise ValueError("task.attention_size and task.bucket_size must be >= 0")

    def describe(self, data: Splits) -> Meta:
        """What load() found (classes, vocabulary or feature statistics) and, with class_weights =
        "balanced", the loss's class weights from the training labels."""
        if not isinstance(data, LabelledSplits) or data.meta is None:
            raise ValueError(f"{type(self).__name__} describes the data of its own load()")
        weights = None
        if self.class_weights == "balanced":
            y = data.train.targets.flatten()
            weights = balanced_weights(y[y != FILLER], len(data.meta["classes"])).tolist()
        return {**data.meta, "class_weights": weights}

    def classifier(self, cfg: ModelConfig, meta: Meta, input_size: int, *, vocab_size: int = 0) -> SequenceClassifier:
        """The recurrent classifier `cfg` describes over `input_size` inputs per step (the
        embedding size of a text model with `vocab_size` tokens, or the feature count)."""
        differences = differences_of(meta)
        rnn = build_rnn(cfg, input_size * (2 if differences is not None else 1))
        extra = {"attention_size": self.attention_size} if self.pooling == "attention" else {}
        pooling = POOLINGS[self.pooling](rnn.output_size, bidirectional=cfg.bidirectional, **extra)
        weight = meta.get("class_weights")
        return SequenceClassifier(rnn, pooling, len(meta["classes"]), vocab_size=vocab_size,
                                  embedding_size=input_size if vocab_size else 0, dropout=self.dropout,
                                  input_dropout=cfg.input_dropout, **statistics(meta),
                                  class_weight=None if weight is None else torch.tensor(weight),
                                  differences=differences)

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]:
        inputs, lengths, targets = trimmed(batch)
        logits, _ = model(inputs, None, lengths)                                   # (B, C)
        core = getattr(model, "module", model)              # the loop may hand over a DDP wrapper
        weight = core.class_weight if isinstance(core, SequenceClassifier) else None
        return F.cross_entropy(logits.float(), targets, weight=None if weight is None else weight.float(),
                               ignore_index=FILLER), None

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics:
        return outcome(model, batches).metrics()

    def _carve(self, raw: dict[str, Part], test_fraction: float) -> dict[str, Part]:
        """Valid (and test, if test_fraction > 0) parts split off the training part where missing."""
        if "valid" in raw and (not test_fraction or "test" in raw):
            return raw
        train = raw.pop("train")
        parts = split_fractions(len(train.inputs), self.valid_fraction, test_fraction, self.seed)
        for name, index in zip(("train", "valid", "test"), parts):
            if len(index):
                raw[name] = train.pick(index)
        return raw

    def _splits(self, splits: dict[str, Batch], meta: dict, raw: dict[str, Part], *,
                texts: dict[str, tuple[list[str], Tensor]] | None = None) -> LabelledSplits:
        """The splits (bucketed with bucket_size > 0) with their ids for split.json: the data's seed,
        the file each split's rows index (where they are rows), and each split's keys."""
        if self.bucket_size:                       # every split, so evaluation is bucketed too
            splits = {name: bucketed(split, self.bucket_size, seed=self.seed) for name, split in splits.items()}
        names = [name for name in ("train", "valid", "test") if name in raw]
        ids: dict[str, Any] = {"seed": self.seed}
        if any(part.file for part in raw.values()):
            ids["files"] = {name: raw[name].file for name in names}
        ids.update({name: raw[name].keys for name in names})
        # no valid split under the cv protocol (its folds validate): runs/crossval.py never reads one
        return LabelledSplits(splits["train"], splits.get("valid"), splits.get("test"),  # type: ignore[arg-type]
                              ids=ids, meta=meta, texts=texts)
