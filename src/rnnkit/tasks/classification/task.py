"""Classification of whole sequences: texts (sentiment) and multivariate series (sensors, speech
features), with a (bi)directional recurrent stack, a pooling and a linear layer.

    [task] name = "text_classification",     path = "imdb" | a CSV (text,label) | a folder of train/valid/test CSVs
    [task] name = "sequence_classification", path = "japanese_vowels" | a folder of <label>/*.csv sequences

Metrics: loss (mean cross-entropy, unweighted), accuracy and macro-F1 (the unweighted mean of
per-class F1 over the classes present in targets or predictions, as scikit-learn computes it).
`class_weights = "balanced"` weighs the loss of class c by N / (C n_c) (King & Zeng 2001).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...config import ModelConfig
from ...data import labelled
from ...data.batch import Batch, Splits
from ...data.labelled import FILLER, as_batch, bucketed, check_sequences, encode_labels, encode_texts, split_fractions
from ...data.text import Vocab
from ...layers.pooling import POOLINGS
from ...models.classifier import SequenceClassifier, copy_embeddings
from ...models.esn import POOLS, EchoStateClassifier, deep_reservoir
from ...models.stack import build_rnn
from ..base import Metrics
from .metrics import accuracy as accuracy
from .metrics import balanced_weights as balanced_weights
from .metrics import confusion_matrix as confusion_matrix
from .metrics import macro_f1 as macro_f1
from .metrics import per_class as per_class
from .metrics import report as report


@dataclass(frozen=True)
class LabelledSplits(Splits):
    meta: dict | None = None        # classes, vocab or feature statistics: what predict needs


@dataclass(frozen=True)
class _Classification:
    """Settings shared by both tasks (each subclass adds where its data comes from)."""

    path: str = ""
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
        poolings = list(POOLS if reservoir else POOLINGS)
        if self.pooling not in poolings:
            raise ValueError(f"task.pooling must be one of {poolings}{' with a reservoir encoder' * reservoir}, "
                             f"got {self.pooling!r}")
        if self.class_weights not in ("none", "balanced"):
            raise ValueError(f"task.class_weights must be 'none' or 'balanced', got {self.class_weights!r}")
        if not (0 <= self.dropout < 1 and 0 < self.valid_fraction < 1 and 0 <= self.test_fraction < 1):
            raise ValueError("task.dropout must be in [0, 1), valid_fraction in (0, 1), test_fraction in [0, 1)")
        if self.attention_size < 0 or self.bucket_size < 0:
            raise ValueError("task.attention_size and task.bucket_size must be >= 0")

    def build_model(self, cfg: ModelConfig, data: Splits) -> nn.Module:
        meta = getattr(data, "meta", None)
        if meta is None:
            raise ValueError(f"{type(self).__name__} builds its model from the metadata of its own load()")
        return self.model_for(cfg, meta)

    def model_for(self, cfg: ModelConfig, meta: dict) -> nn.Module:
        """The model `cfg` describes for data described by `meta` (also how a saved run is rebuilt)."""
        text = meta.get("vocab") is not None
        size = meta["embedding_size"] if text else meta["num_features"]
        rnn = build_rnn(cfg, size)
        pooling_kind = POOLINGS[self.pooling]
        extra = {"attention_size": self.attention_size} if self.pooling == "attention" else {}
        pooling = pooling_kind(rnn.output_size, bidirectional=cfg.bidirectional, **extra)
        model = SequenceClassifier(rnn, pooling, len(meta["classes"]), vocab_size=len(meta["vocab"]["tokens"])
                                   if text else 0, embedding_size=size if text else 0, dropout=self.dropout,
                                   input_dropout=cfg.input_dropout, **({} if text else _statistics(meta)))
        return _with_meta(model, meta)

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]:
        inputs, lengths, targets = trimmed(batch)
        logits, _ = model(inputs, None, lengths)                                   # (B, C)
        weight = getattr(self, "_weights", None)
        return F.cross_entropy(logits.float(), targets, weight=None if weight is None else weight.to(logits.device),
                               ignore_index=FILLER), None

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics:
        total, targets, predictions = 0.0, [], []
        for batch in batches:
            inputs, lengths, y = trimmed(batch)
            logits, _ = model(inputs, None, lengths)
            total += F.cross_entropy(logits.float(), y, reduction="sum", ignore_index=FILLER).item()
            targets.append(y.cpu())
            predictions.append(logits.argmax(-1).cpu())
        y, p = torch.cat(targets), torch.cat(predictions)
        y, p = y[y != FILLER], p[y != FILLER]
        return {"loss": total / len(y), "accuracy": accuracy(y, p), "macro_f1": macro_f1(y, p)}

    def _carve(self, raw: dict[str, tuple[list, list[str]]], test_fraction: float) -> dict[str, tuple[list, list]]:
        """Valid (and test, if test_fraction > 0) parts split off the training part where missing."""
        if "valid" in raw and (not test_fraction or "test" in raw):
            return raw
        inputs, labels = raw.pop("train")
        parts = split_fractions(len(inputs), self.valid_fraction, test_fraction, self.seed)
        for name, index in zip(("train", "valid", "test"), parts):
            if len(index):
                raw[name] = ([inputs[i] for i in index], [labels[i] for i in index])
        return raw

    def _splits(self, splits: dict[str, Batch], meta: dict) -> LabelledSplits:
        if self.bucket_size:                       # every split, so evaluation is bucketed too
            splits = {name: bucketed(split, self.bucket_size, seed=self.seed) for name, split in splits.items()}
        return LabelledSplits(splits["train"], splits["valid"], splits.get("test"), meta=meta)

    def _set_weights(self, ids: Tensor, count: int) -> None:
        if self.class_weights == "balanced":      # a frozen dataclass: the weights are data, not settings
            object.__setattr__(self, "_weights", balanced_weights(ids, count))


def _statistics(meta: dict) -> dict[str, Tensor]:
    """The training split's feature mean and std, as the models' keyword arguments (none if unused)."""
    if meta.get("mean") is None:
        return {}
    return {"feature_mean": torch.tensor(meta["mean"]), "feature_std": torch.tensor(meta["std"])}


def _with_meta(model: nn.Module, meta: dict) -> nn.Module:
    """`model` with `meta` (classes, vocabulary or feature statistics) saved among its buffers."""
    data = json.dumps(meta, ensure_ascii=False).encode("utf-8")
    model.register_buffer("meta_json", torch.frombuffer(bytearray(data), dtype=torch.uint8))
    return model


def trimmed(batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """(inputs cut to the batch's longest sequence, lengths, targets); a bucketed batch of
    (K, B, ...) examples is flattened to K B examples first."""
    x, n, y = batch.inputs, batch.lengths, batch.targets
    if y.dim() == 2:
        x, n, y = x.flatten(0, 1), n.flatten(), y.flatten()
    return x[:, :int(n.max())], n, y


@dataclass(frozen=True)
class TextClassification(_Classification):
    """Texts -> labels. `path`: "imdb" (fetched), a CSV file, or a folder with train.csv and
    optional valid.csv / test.csv."""

    text_column: str = "text"
    label_column: str = "label"
    level: str = "word"             # word (lower-cased, punctuation split) or bpe (HF tokenizers)
    max_vocab: int = 20000          # most frequent tokens kept (bpe: the subword count)
    min_count: int = 1
    max_length: int = 0             # keep the first max_length tokens of each text; 0 = all
    embedding_size: int = 128
    init_embedding: str = ""        # a word-level language_modeling run whose embeddings start ours

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.level not in ("word", "bpe"):
            raise ValueError(f"task.level must be 'word' or 'bpe', got {self.level!r}")
        if self.max_vocab < 2 or self.min_count < 1 or self.max_length < 0 or self.embedding_size < 1:
            raise ValueError("task.max_vocab must be >= 2, min_count and embedding_size >= 1, max_length >= 0")

    def load(self) -> LabelledSplits:
        raw = self._raw()
        normal = {name: [labelled.normalize_text(t) for t in texts] for name, (texts, _) in raw.items()}
        vocab = Vocab.build("\n".join(normal["train"]), level=self.level, max_size=self.max_vocab,
                            min_count=self.min_count)
        ids, classes = encode_labels(raw["train"][1], where="train ")
        meta = {"classes": classes, "vocab": vocab.to_dict(), "embedding_size": self.embedding_size,
                "max_length": self.max_length}
        splits = {}
        for name, (_, labels) in raw.items():
            y = ids if name == "train" else encode_labels(labels, classes, where=f"{name} ")[0]
            splits[name] = as_batch(encode_texts(normal[name], vocab, self.max_length, where=f"{name} "), y)
        self._set_weights(ids, len(classes))
        return self._splits(splits, meta)

    def build_model(self, cfg: ModelConfig, data: Splits) -> nn.Module:
        model = super().build_model(cfg, data)
        if self.init_embedding:
            from ...cli.language import load_language_model

            lm, lm_vocab = load_language_model(self.init_embedding)
            tokens = data.meta["vocab"]["tokens"]
            n = copy_embeddings(model.embedding, tokens, lm.embedding, lm_vocab.tokens)
            print(f"{n} of {len(tokens)} embeddings start from {self.init_embedding}", flush=True)
        return model

    def _raw(self) -> dict[str, tuple[list[str], list[str]]]:
        """{"train": (texts, labels), "valid": ..., "test": ...} before any encoding."""
        path = Path(self.path)
        if self.path == "imdb":
            texts, labels = labelled.load_imdb()
            train, test = labelled.split_imdb(len(texts), seed=self.seed)
            pick = lambda index: ([texts[i] for i in index], [labels[i] for i in index])
            valid, train = train[: round(self.valid_fraction * len(train))], train[round(self.valid_fraction
                                                                                         * len(train)):]
            return {"train": pick(train), "valid": pick(valid), "test": pick(test)}
        read = lambda f: labelled.read_text_csv(f, text_column=self.text_column, label_column=self.label_column)
        if path.is_dir():
            files = {name: path / f"{name}.csv" for name in ("train", "valid", "test")
                     if (path / f"{name}.csv").is_file()}
            if "train" not in files:
                raise ValueError(f"{path} should hold train.csv (and optionally valid.csv, test.csv)")
            raw = {name: read(f) for name, f in files.items()}
            test_fraction = 0.0
        else:
            raw, test_fraction = {"train": read(path)}, self.test_fraction
        return self._carve(raw, test_fraction)


@dataclass(frozen=True)
class SequenceClassification(_Classification):
    """Multivariate sequences -> labels. `path`: "japanese_vowels" (fetched; standard 270/370
    split), "fashion_mnist" (28 rows of 28 pixels; fetched from Debian) or "fashion_mnist:DIR"
    (DIR holds the four idx .gz files), or a folder of <label>/*.csv (optionally under train/
    and test/)."""

    standardize: bool = True        # per-feature mean and std from the training split
    # encoder = "reservoir": an echo state network (Jaeger et al. 2007) instead of [model]'s cell:
    # a fixed reservoir of [model] hidden_size units (num_layers > 1: deep), pooled by `pooling`
    # (mean, last or mean_last), then a ridge readout (train.method = "ridge"); settings below.
    encoder: str = "rnn"            # rnn or reservoir
    spectral_radius: float = 0.9
    leak: float = 1.0
    density: float = 0.1
    input_scaling: float = 1.0
    bias_scaling: float = 0.0
    input_to_readout: bool = False  # the pooled inputs too, beside the pooled states
    alpha: float = 1e-2             # ridge penalty of the readout

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.encoder not in ("rnn", "reservoir"):
            raise ValueError(f"task.encoder must be 'rnn' or 'reservoir', got {self.encoder!r}")
        if self.encoder == "reservoir" and (self.bucket_size or self.class_weights != "none"):
            raise ValueError("task.bucket_size and task.class_weights are for the gradient-trained rnn encoder; "
                             "leave them unset with task.encoder = 'reservoir'")

    def model_for(self, cfg: ModelConfig, meta: dict) -> nn.Module:
        if self.encoder == "rnn":
            return super().model_for(cfg, meta)
        reservoir = deep_reservoir(meta["num_features"], cfg.hidden_size, cfg.num_layers, dtype=torch.float64,
                                   spectral_radius=self.spectral_radius, leak=self.leak, density=self.density,
                                   input_scaling=self.input_scaling, bias_scaling=self.bias_scaling)
        model = EchoStateClassifier(reservoir, len(meta["classes"]), pool=self.pooling,
                                    input_to_readout=self.input_to_readout, **_statistics(meta))
        return _with_meta(model, meta)

    def load(self) -> LabelledSplits:
        raw = self._raw()
        ids, classes = encode_labels(raw["train"][1], where="train ")
        check_sequences(raw["train"][0], where="train ")
        meta = {"classes": classes, "num_features": int(raw["train"][0][0].size(1)), "mean": None, "std": None}
        if self.standardize:
            steps = torch.cat(raw["train"][0]).double()                             # (sum T, C)
            meta["mean"], meta["std"] = steps.mean(0).tolist(), steps.std(0).clamp_min(1e-8).tolist()
        splits = {name: as_batch(series, ids if name == "train" else encode_labels(labels, classes,
                                 where=f"{name} ")[0], num_features=meta["num_features"], where=f"{name} ")
                  for name, (series, labels) in raw.items()}
        self._set_weights(ids, len(classes))
        return self._splits(splits, meta)

    def _raw(self) -> dict[str, tuple[list[Tensor], list[str]]]:
        path = Path(self.path.split(":", 1)[-1])
        if self.path == "japanese_vowels":
            from ...data.japanese_vowels import load_japanese_vowels

            raw = {name: ([x[i, :n].float() for i, n in enumerate(lengths.tolist())], [str(int(c)) for c in y])
                   for name, (x, y, lengths) in zip(("train", "test"), load_japanese_vowels())}
        elif self.path == "fashion_mnist" or self.path.startswith("fashion_mnist:"):
            from ...data.fashion_mnist import load_fashion_mnist

            images = load_fashion_mnist(None if self.path == "fashion_mnist" else path)
            raw = {name: (list(x), [str(int(c)) for c in y]) for name, (x, y) in zip(("train", "test"), images)}
        elif (path / "train").is_dir():
            raw = {name: labelled.read_sequence_dir(path / name) for name in ("train", "valid", "test")
                   if (path / name).is_dir()}
        else:
            raw = {"train": labelled.read_sequence_dir(path)}
        return self._carve(raw, self.test_fraction if "test" not in raw else 0.0)
