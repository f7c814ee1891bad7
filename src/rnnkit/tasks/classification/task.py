"""Classification of whole sequences: texts (sentiment) and multivariate series (sensors, speech
features), with a (bi)directional recurrent stack, a pooling and a linear layer, or for series an
echo state network with a ridge readout.

    [task] name = "text_classification",     path = "imdb" | a CSV (text,label) | a folder of train/valid/test CSVs
    [task] name = "sequence_classification", path = "japanese_vowels" | a folder of <label>/*.csv sequences

The settings, loss and metrics both share are in _common.py; the predictors in predict.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ...config import ModelConfig
from ...data import labelled
from ...data.fashion_mnist import load_fashion_mnist
from ...data.japanese_vowels import load_japanese_vowels
from ...data.labelled import as_batch, check_sequences, encode_labels, encode_texts
from ...data.text import Vocab
from ...models.classifier import SequenceClassifier, copy_embeddings
from ...models.esn import EchoStateClassifier, deep_reservoir
from ..base import Meta
from ._common import Classification, LabelledSplits, Outcome, outcome, statistics, trimmed
from .metrics import accuracy as accuracy
from .metrics import balanced_weights as balanced_weights
from .metrics import confusion_matrix as confusion_matrix
from .metrics import macro_f1 as macro_f1
from .metrics import per_class as per_class
from .metrics import report as report
from .predict import SequencePredictor, TextPredictor
from .pretrained import language_model_embeddings

__all__ = ["LabelledSplits", "Outcome", "SequenceClassification", "TextClassification", "accuracy",
           "balanced_weights", "confusion_matrix", "macro_f1", "outcome", "per_class", "report", "trimmed"]


@dataclass(frozen=True)
class TextClassification(Classification):
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
        splits = {}
        for name, (_, labels) in raw.items():
            y = ids if name == "train" else encode_labels(labels, classes, where=f"{name} ")[0]
            splits[name] = as_batch(encode_texts(normal[name], vocab, self.max_length, where=f"{name} "), y)
        return self._splits(splits, {"classes": classes, "vocab": vocab.to_dict()})

    def build_model(self, cfg: ModelConfig, meta: Meta) -> nn.Module:
        return self.classifier(cfg, meta, self.embedding_size, vocab_size=len(meta["vocab"]["tokens"]))

    def warm_start(self, model: nn.Module, meta: Meta) -> None:
        """task.init_embedding: the rows of the words both vocabularies hold start from the
        language model's embeddings (a new run only: a saved run's weights already hold them)."""
        if not self.init_embedding:
            return
        assert isinstance(model, SequenceClassifier) and model.embedding is not None
        lm_tokens, weight = language_model_embeddings(self.init_embedding)
        tokens = meta["vocab"]["tokens"]
        n = copy_embeddings(model.embedding, tokens, nn.Embedding.from_pretrained(weight), lm_tokens)
        print(f"{n} of {len(tokens)} embeddings start from {self.init_embedding}", flush=True)

    def predictor(self, model: nn.Module, meta: Meta) -> TextPredictor:
        return TextPredictor(model, meta["classes"], Vocab.from_dict(meta["vocab"]), max_length=self.max_length)

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
class SequenceClassification(Classification):
    """Multivariate sequences -> labels. `path`: "japanese_vowels" (fetched; standard 270/370
    split), "fashion_mnist" (28 rows of 28 pixels; fetched from Debian) or "fashion_mnist:DIR"
    (DIR holds the four idx .gz files), or a folder of <label>/*.csv (optionally under train/
    and test/)."""

    standardize: bool = True        # per-feature mean and std from the training split
    # encoder = "reservoir": an echo state network (Jaeger et al. 2007) instead of [model]'s cell:
    # a fixed reservoir of [model] hidden_size units (num_layers > 1: deep), pooled by `pooling`
    # (last, max, mean or mean_last), then a ridge readout (train.method = "ridge"); settings below.
    encoder: str = "rnn"            # rnn or reservoir
    spectral_radius: float = 0.9
    leak: float = 1.0
    density: float = 0.1
    input_scaling: float = 1.0
    bias_scaling: float = 0.0
    input_to_readout: bool = False  # the pooled inputs too, beside the pooled states
    alpha: float = 1e-2             # ridge penalty of the readout

    washout = 0                     # RidgeTrained: a classifier pools whole sequences, none discarded

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.encoder not in ("rnn", "reservoir"):
            raise ValueError(f"task.encoder must be 'rnn' or 'reservoir', got {self.encoder!r}")
        if self.encoder == "reservoir" and (self.bucket_size or self.class_weights != "none"):
            raise ValueError("task.bucket_size and task.class_weights are for the gradient-trained rnn encoder; "
                             "leave them unset with task.encoder = 'reservoir'")

    def build_model(self, cfg: ModelConfig, meta: Meta) -> nn.Module:
        if self.encoder == "rnn":
            return self.classifier(cfg, meta, meta["num_features"])
        reservoir = deep_reservoir(meta["num_features"], cfg.hidden_size, cfg.num_layers, dtype=torch.float64,
                                   spectral_radius=self.spectral_radius, leak=self.leak, density=self.density,
                                   input_scaling=self.input_scaling, bias_scaling=self.bias_scaling)
        return EchoStateClassifier(reservoir, len(meta["classes"]), pool=self.pooling,
                                   input_to_readout=self.input_to_readout, **statistics(meta))

    def predictor(self, model: nn.Module, meta: Meta) -> SequencePredictor:
        return SequencePredictor(model, meta["classes"], num_features=meta["num_features"])

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
        return self._splits(splits, meta)

    def _raw(self) -> dict[str, tuple[list[Tensor], list[str]]]:
        path = Path(self.path.split(":", 1)[-1])
        if self.path == "japanese_vowels":
            raw = {name: ([x[i, :n].float() for i, n in enumerate(lengths.tolist())], [str(int(c)) for c in y])
                   for name, (x, y, lengths) in zip(("train", "test"), load_japanese_vowels())}
        elif self.path == "fashion_mnist" or self.path.startswith("fashion_mnist:"):
            images = load_fashion_mnist(None if self.path == "fashion_mnist" else path)
            raw = {name: (list(x), [str(int(c)) for c in y]) for name, (x, y) in zip(("train", "test"), images)}
        elif (path / "train").is_dir():
            raw = {name: labelled.read_sequence_dir(path / name) for name in ("train", "valid", "test")
                   if (path / name).is_dir()}
        else:
            raw = {"train": labelled.read_sequence_dir(path)}
        return self._carve(raw, self.test_fraction if "test" not in raw else 0.0)
