"""Sequence labelling: one tag per word (part of speech, named entities), with a bidirectional
recurrent tagger over word embeddings and character features, and a softmax or CRF output.

    [task] name = "tagging", path = "ewt"                         # UPOS on UD English-EWT
    [task] name = "tagging", path = "conll2003", scheme = "IOB2", crf = true   # CoNLL-2003 NER

The sources and encodings are in data.py; the metrics, report and baseline in scoring.py; the
predictor (`rnnkit tag`, `rnnkit.load(run).predict`) in predict.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...config import ModelConfig
from ...data.batch import Batch, Splits, batches
from ...data.conll import Sentence
from ...data.tag_schemes import SCHEMES
from ...models.crf import CRF, bio_constraints
from ...models.stack import build_rnn
from ...models.tagger import CharEncoder, SequenceTagger
from ...plots.classify import plot_confusion
from ..base import Meta, Metrics
from .data import Encoding, Source, carve, training_tags
from .predict import TagPredictor
from .scoring import majority_baseline, outcome, trim


def digest(sentences: list[Sentence]) -> str:
    text = "\n".join(" ".join(words) + "\t" + " ".join(tags) for words, tags in sentences)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TaggedSplits(Splits):
    meta: dict | None = None                                # the Encoding, as JSON values
    sentences: dict[str, list[Sentence]] | None = None      # each split's sentences, tags in the training scheme


@dataclass(frozen=True)
class Tagging:
    """Tagged sentences -> a tagger. `path`: "ewt", "conll2003", a folder of train/dev/test files
    or one file (.conllu: CoNLL-U; else word ... tag columns, blank lines between sentences)."""

    path: str = ""                  # "ewt", "conll2003", or your .conllu / column file, or a folder of train/dev/test
    column: str = "upos"            # CoNLL-U: upos or xpos
    word_column: int = 0            # column files: the word's column
    tag_column: int = -1            # column files: the tag's column (-1 = the last)
    # "" = plain tags (part of speech), scored by token accuracy; IOB1, IOB2 (BIO) or BIOES = the
    # files' chunk scheme (named entities), scored by entity F1 and written back in it
    scheme: str = ""
    train_scheme: str = "BIOES"     # with a scheme: the tags the model learns (Ratinov & Roth 2009)
    crf: bool = False               # a linear-chain CRF output (Lample et al. 2016), else a softmax per word
    embedding_size: int = 100       # word embeddings
    char_embedding_size: int = 25   # character embeddings
    char_hidden_size: int = 25      # the character BiLSTM's size per direction; 0 = no character features
    max_chars: int = 20             # characters of each word the character encoder reads
    lowercase: bool = True          # the word vocabulary is lower-cased (the characters keep the case)
    digits: bool = True             # the word vocabulary reads every digit as 0
    min_count: int = 1              # rarer training words read as <unk>
    word_dropout: float = 0.0       # training: a word seen once is read as <unk> with this probability
    dropout: float = 0.5            # on the word features and on the recurrent outputs
    valid_fraction: float = 0.1     # of the training file, when the source has no validation file
    test_fraction: float = 0.1      # of a single file, when the source has no test file
    seed: int = 0                   # the data's own seed (splits), whatever the run's seed

    carries_state = False

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("task.path is required: 'ewt', 'conll2003', or your .conllu or column file or folder")
        if self.column not in ("upos", "xpos"):
            raise ValueError(f"task.column must be 'upos' or 'xpos', got {self.column!r}")
        for name in ("scheme", "train_scheme"):
            value = getattr(self, name)
            if value and value.upper() not in SCHEMES:
                raise ValueError(f"task.{name} must be one of {', '.join(SCHEMES)}" +
                                 (" or '' (plain tags)" if name == "scheme" else "") + f", got {value!r}")
        if not self.train_scheme:
            raise ValueError("task.train_scheme must name a scheme (it is used only with task.scheme)")
        if min(self.embedding_size, self.char_embedding_size, self.min_count) < 1 or self.char_hidden_size < 0:
            raise ValueError("task.embedding_size, char_embedding_size and min_count must be >= 1, "
                             "char_hidden_size >= 0")
        if self.max_chars < 1:
            raise ValueError("task.max_chars must be >= 1")
        if not (0 <= self.dropout < 1 and 0 <= self.word_dropout <= 1 and 0 < self.valid_fraction < 1
                and 0 <= self.test_fraction < 1):
            raise ValueError("task.dropout must be in [0, 1), word_dropout in [0, 1], valid_fraction in (0, 1), "
                             "test_fraction in [0, 1)")

    @property
    def tag_scheme(self) -> str:
        """The scheme of the model's tags ("" = plain tags)."""
        return self.train_scheme if self.scheme else ""

    def load(self) -> TaggedSplits:
        source = Source(self.path, self.column, self.word_column, self.tag_column)
        # tags checked and converted before any split is carved, so an error names the file's sentence
        converted, tags = training_tags(source.splits(), self.scheme, self.train_scheme)
        sentences = carve(converted, self.valid_fraction, self.test_fraction, self.seed)
        encoding = Encoding.build(sentences["train"], min_count=self.min_count, tags=tags, lowercase=self.lowercase,
                                  digits=self.digits, max_chars=self.max_chars if self.char_hidden_size else 0)
        batches = {name: encoding.batch(part, f"{name} ") for name, part in sentences.items()}
        # split.json: each split's size and a digest of its words and tags, so a changed file or seed is
        # caught before a run is scored on sentences it may have trained on
        ids: dict[str, Any] = {"seed": self.seed, **{name: {"sentences": len(part), "sha1": digest(part)}
                                                     for name, part in sentences.items()}}
        return TaggedSplits(batches["train"], batches["valid"], batches.get("test"), ids=ids,
                            meta=encoding.to_dict(), sentences=sentences)

    def describe(self, data: Splits) -> Meta:
        if not isinstance(data, TaggedSplits) or data.meta is None:
            raise ValueError(f"{type(self).__name__} describes the data of its own load()")
        return dict(data.meta)

    def build_model(self, cfg: ModelConfig, meta: Meta) -> SequenceTagger:
        encoding = Encoding.from_dict(meta)
        chars = (CharEncoder(len(encoding.alphabet), self.char_embedding_size, self.char_hidden_size)
                 if self.char_hidden_size else None)
        rnn = build_rnn(cfg, self.embedding_size + (chars.output_size if chars is not None else 0))
        crf = None
        if self.crf:
            crf = CRF(len(encoding.tags), **bio_constraints(encoding.tags)._asdict()) if self.scheme else \
                CRF(len(encoding.tags))
        return SequenceTagger(len(encoding.words), len(encoding.tags), rnn, embedding_size=self.embedding_size,
                              chars=chars, dropout=self.dropout, crf=crf, tags=encoding.tags,
                              word_dropout=self.word_dropout, rare_from=encoding.singletons)

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]:
        inputs, lengths, targets = trim(batch)
        scores = model(inputs, lengths)                                        # (B, L, T)
        core = getattr(model, "module", model)              # the loop may hand over a DDP wrapper
        return core.loss(scores, targets, lengths), None

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics:
        core = getattr(model, "module", model)
        return outcome(model, batches).metrics(core.tags, self.tag_scheme)

    def baselines(self, data: Splits, splits: Sequence[str]) -> dict[str, dict[str, Metrics]]:
        """Each word's most frequent training tag (scoring.majority_baseline)."""
        if not isinstance(data, TaggedSplits) or data.sentences is None or not set(splits) <= set(data.sentences):
            raise ValueError(f"{type(self).__name__}.baselines needs the data of its own load() with the splits "
                             f"{list(splits)}")
        assert data.meta is not None
        return {split: {"most frequent tag": majority_baseline(
            data.sentences["train"], data.sentences[split], data.meta["tags"], self.tag_scheme,
            lowercase=self.lowercase, digits=self.digits)} for split in splits}

    def plot(self, model: nn.Module, data: Splits, folder: Path) -> None:
        """The test split's (else validation's) per-tag report and confusion matrix PNG."""
        split = "test" if data.test is not None else "valid"
        model.eval()
        with torch.no_grad():
            result = outcome(model, batches(getattr(data, split), 256))
        tags = getattr(model, "tags", None) or []
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"tag_report_{split}.txt").write_text(result.report(tags, self.tag_scheme) + "\n", encoding="utf-8")
        plot_confusion(result.confusion(len(tags)), tags, folder / f"confusion_{split}.png")

    def predictor(self, model: nn.Module, meta: Meta) -> TagPredictor:
        return TagPredictor(model, Encoding.from_dict(meta), scheme=self.scheme, train_scheme=self.train_scheme)
