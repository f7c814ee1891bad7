"""Translation: sentence pairs -> an attention encoder-decoder (models/seq2seq.py).

    [task] name = "translation", path = "dates" | "bible" | a TSV of source<TAB>target lines |
           a folder of train.tsv, valid.tsv and test.tsv

"dates" generates human-written dates -> ISO dates (data/dates.py; char level); "bible" is the
verse-aligned English-Spanish Bible split by whole books (data/bible.py). Each side gets its own
vocabulary (char, word or BPE with HF tokenizers). Training is teacher-forced, optionally with
scheduled sampling (Bengio et al. 2015: each decoder input is the model's own previous
prediction with probability `sampling`) and label smoothing (Szegedy et al. 2016), in
length-bucketed batches (`bucket_size`). Metrics: loss and ppl per target token, teacher-forced
token accuracy, and on the first `eval_sentences` sentences decoded greedily, BLEU, chrF
(sacrebleu) and exact match, by the decoding the predictor uses (models/decode.py).

    run = rnnkit.load("runs/translate_dates")
    run.predict(["Donnerstag, 4. März 2021"], beam=5)          # ["2021-03-04"]
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...config import ModelConfig
from ...data.batch import Batch, Splits
from ...data.bible import load_bible
from ...data.dates import generate_dates
from ...data.labelled import split_fractions
from ...data.pairs import bucketed_pairs, drop_one_sided, encode_pairs, read_pairs, trimmed
from ...data.text import Vocab
from ...layers import AdditiveAttention, MultiplicativeAttention
from ...models.decode import decode
from ...models.seq2seq import Decoder, Encoder, Seq2Seq, sequence_loss
from ...models.stack import build_rnn
from ..base import Meta, Metrics
from .metrics import text_metrics
from .predict import TranslationPredictor, detokenize, target_vocab

ATTENTIONS: dict[str, str] = {
    "none": "Sutskever et al. 2014: the decoder sees only the bridged final encoder state",
    "additive": "Bahdanau et al. 2015: v^T tanh(W_k k + W_q s_{t-1}), the context is an rnn input",
    "dot": "Luong et al. 2015: s_t^T k (needs encoder output size == decoder hidden size)",
    "general": "Luong et al. 2015: s_t^T W k",
}


def build_seq2seq(cfg: ModelConfig, source_vocab_size: int, target_vocab_size: int, *, embedding_size: int,
                  attention: str, input_feeding: bool = False, tie_weights: bool = False, attention_size: int = 0,
                  dropout: float = 0.0, bos: int | None = None, eos: int | None = None,
                  target_vocab: Vocab | None = None) -> Seq2Seq:
    """The model `cfg` describes: its cell, sizes and regularisers for both rnns; the encoder is
    bidirectional when cfg.bidirectional. `bos` and `eos` default to the last two target ids;
    `target_vocab` lets evaluation read the outputs as text."""
    if attention not in ATTENTIONS:
        raise ValueError(f"unknown attention {attention!r}; choose one of {sorted(ATTENTIONS)}")
    encoder = Encoder(source_vocab_size, build_rnn(cfg, embedding_size), embedding_size=embedding_size,
                      dropout=cfg.input_dropout)
    memory, hidden = encoder.output_size, cfg.hidden_size
    make: dict[str, Callable[[], nn.Module | None]] = {
        "none": lambda: None,
        "additive": lambda: AdditiveAttention(memory, attention_size or hidden, query_size=hidden),
        "dot": lambda: MultiplicativeAttention(memory, hidden, general=False),
        "general": lambda: MultiplicativeAttention(memory, hidden, general=True),
    }
    module = make[attention]()
    inputs = embedding_size + memory * (attention == "additive") + hidden * input_feeding
    decoder_rnn = build_rnn(dataclasses.replace(cfg, bidirectional=False), inputs)
    decoder = Decoder(target_vocab_size, decoder_rnn, embedding_size=embedding_size, memory_size=memory,
                      summary_size=memory, attention=module, input_feeding=input_feeding, tie_weights=tie_weights,
                      dropout=dropout)
    bos = target_vocab_size - 2 if bos is None else bos
    return Seq2Seq(encoder, decoder, bos=bos, eos=target_vocab_size - 1 if eos is None else eos,
                   target_vocab=target_vocab)


@dataclass(frozen=True)
class TranslationSplits(Splits):
    meta: dict | None = None        # both vocabularies: what `describe` returns


@dataclass(frozen=True)
class Translation:
    path: str = "dates"             # "dates", "bible" (or "bible:DIR"), a TSV file, a folder of train/valid/test.tsv
    direction: str = "en-es"        # bible: en-es or es-en
    level: str = "bpe"              # char, word or bpe, both sides ("dates" is always char)
    source_vocab: int = 8000        # most frequent tokens kept (bpe: the subword count); 0 = all (not bpe)
    target_vocab: int = 8000        # the same for the target side
    min_count: int = 1              # rarer tokens read as <unk>
    max_length: int = 100           # tokens per side; longer sides are cut to it (counted in a note)
    embedding_size: int = 256       # size of the token embeddings, both sides
    attention: str = "general"      # none, additive (Bahdanau), dot or general (Luong): see ATTENTIONS
    attention_size: int = 0         # additive: 0 = model.hidden_size
    input_feeding: bool = True      # Luong et al. 2015, section 3.3
    tie_weights: bool = False       # the decoder's output layer shares its embedding matrix
    dropout: float = 0.0            # on h~ before the output layer
    label_smoothing: float = 0.0    # of the cross-entropy (Szegedy et al. 2016)
    sampling: float = 0.0           # scheduled sampling: probability of feeding the model's own prediction
    bucket_size: int = 0            # > 0: fixed length-bucketed batches; train.batch_size then counts them
    eval_sentences: int = 500       # decoded (greedy) for BLEU / chrF / exact match at each evaluation
    samples: int = 30000            # "dates": distinct generated pairs
    valid_books: tuple[str, ...] = ("Ruth", "Joel", "Jonah", "Titus", "James")    # "bible": whole books held out
    test_books: tuple[str, ...] = ("Esther", "Habakkuk", "John", "Philippians")   # (no synoptic parallels)
    valid_fraction: float = 0.05    # one TSV / "dates": the share held out for valid and for test
    test_fraction: float = 0.05     # one TSV / "dates": the share held out for test
    seed: int = 0                   # the data's own seed (generation, splits, buckets)

    carries_state = False

    def __post_init__(self) -> None:
        checks = [(self.attention in ATTENTIONS, f"task.attention must be one of {sorted(ATTENTIONS)}"),
                  (self.level in ("char", "word", "bpe"), "task.level must be char, word or bpe"),
                  (self.direction in ("en-es", "es-en"), "task.direction must be en-es or es-en"),
                  (bool(self.path), "task.path is required: dates, bible, a TSV file or a folder"),
                  (min(self.source_vocab, self.target_vocab) >= 0 and self.min_count >= 1, "task.source_vocab and "
                   "target_vocab must be >= 0 (0 = all) and min_count >= 1"),
                  (min(self.max_length, self.embedding_size, self.samples) >= 1, "task.max_length, embedding_size "
                   "and samples must be >= 1"),
                  (0 <= self.dropout < 1 and 0 <= self.label_smoothing < 1 and 0 <= self.sampling <= 1,
                   "task.dropout and label_smoothing must be in [0, 1), sampling in [0, 1]"),
                  (min(self.bucket_size, self.attention_size, self.eval_sentences) >= 0,
                   "task.bucket_size, attention_size and eval_sentences must be >= 0"),
                  (0 < self.valid_fraction < 1 and 0 < self.test_fraction < 1 and self.valid_fraction
                   + self.test_fraction < 1, "task.valid_fraction and test_fraction must be in (0, 1), sum < 1")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def resolved_level(self) -> str:
        return "char" if self.path == "dates" else self.level

    def load(self) -> TranslationSplits:
        raw = self.raw()
        level = self.resolved_level()
        vocabs = [Vocab.build("\n".join(pair[side] for pair in raw["train"]), level=level, min_count=self.min_count,
                              max_size=size or (None if level != "bpe" else 8000))
                  for side, size in ((0, self.source_vocab), (1, self.target_vocab))]
        meta = {"source_vocab": vocabs[0].to_dict(), "target_vocab": vocabs[1].to_dict()}
        splits = {name: encode_pairs(pairs, *vocabs, max_length=self.max_length, where=f"{name} ")
                  for name, pairs in raw.items()}
        if self.bucket_size:                       # every split, so evaluation is bucketed too
            splits = {name: bucketed_pairs(split, self.bucket_size, seed=self.seed) for name, split in splits.items()}
        return TranslationSplits(splits["train"], splits["valid"], splits.get("test"), meta=meta,
                                 ids=self._split_ids(raw))

    def _split_ids(self, raw: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
        """What split.json records: per split the pair count and a SHA-256 of the pairs in order
        (a generated or carved split has no file rows to name; the digest pins it exactly)."""
        def digest(pairs: list[tuple[str, str]]) -> str:
            return hashlib.sha256("\n".join(f"{s}\t{t}" for s, t in pairs).encode("utf-8")).hexdigest()

        return {"path": self.path, "seed": self.seed,
                **{name: {"pairs": len(pairs), "sha256": digest(pairs)} for name, pairs in raw.items()}}

    def raw(self) -> dict[str, list[tuple[str, str]]]:
        """{"train": pairs, "valid": ..., "test": ...} before any encoding."""
        if self.path == "dates":
            return self._carve(generate_dates(self.samples, seed=self.seed))
        if self.path == "bible" or self.path.startswith("bible:"):
            root = self.path.partition(":")[2] or None                   # "bible:DIR": the modules' folder
            splits = load_bible(valid_books=self.valid_books, test_books=self.test_books, root=root)
            swap = self.direction == "es-en"
            return {name: [(t, s) if swap else (s, t) for s, t in pairs] for name, pairs in splits.items()}
        path = Path(self.path)
        if path.is_dir():
            files = {name: path / f"{name}.tsv" for name in ("train", "valid", "test")
                     if (path / f"{name}.tsv").is_file()}
            if "train" not in files or "valid" not in files:
                raise ValueError(f"{path} should hold train.tsv and valid.tsv (and optionally test.tsv)")
            return {name: read_pairs(f) for name, f in files.items()}
        return self._carve(read_pairs(path))

    def _carve(self, pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
        pairs = drop_one_sided(pairs, where=self.path)
        parts = split_fractions(len(pairs), self.valid_fraction, self.test_fraction, self.seed)
        return {name: [pairs[i] for i in index] for name, index in zip(("train", "valid", "test"), parts)}

    def describe(self, data: Splits) -> Meta:
        """Both vocabularies (the model's sizes, the predictor's tokenisation)."""
        if not isinstance(data, TranslationSplits) or data.meta is None:
            raise ValueError("translation describes the vocabularies of its own load()")
        return dict(data.meta)

    def build_model(self, cfg: ModelConfig, meta: Meta) -> Seq2Seq:
        target = Vocab.from_dict(meta["target_vocab"])
        return build_seq2seq(cfg, len(meta["source_vocab"]["tokens"]), len(target) + 2,
                             embedding_size=self.embedding_size, attention=self.attention,
                             input_feeding=self.input_feeding, tie_weights=self.tie_weights,
                             attention_size=self.attention_size, dropout=self.dropout, target_vocab=target)

    def predictor(self, model: nn.Module, meta: Meta) -> TranslationPredictor:
        if not isinstance(model, Seq2Seq):
            raise TypeError(f"a translation predictor needs a Seq2Seq model, got {type(model).__name__}")
        return TranslationPredictor(model, Vocab.from_dict(meta["source_vocab"]), target_vocab(model),
                                    max_length=self.max_length)

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]:
        source, lengths, targets, target_lengths = trimmed(batch)
        logits, _ = model(source, lengths, targets[:, :-1], target_lengths=target_lengths, sampling=self.sampling)
        return sequence_loss(logits, targets[:, 1:], target_lengths, label_smoothing=self.label_smoothing), None

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics:
        vocab = target_vocab(model)
        total, count, correct, hypotheses, references = 0.0, 0, 0, [], []
        for batch in batches:
            source, lengths, targets, target_lengths = trimmed(batch)
            keep = target_lengths > 0                                  # filler rows of a bucketed split
            source, lengths, targets, target_lengths = source[keep], lengths[keep], targets[keep], target_lengths[keep]
            logits, _ = model(source, lengths, targets[:, :-1], target_lengths=target_lengths)
            gold = targets[:, 1:]
            total += sequence_loss(logits, gold, target_lengths, reduction="sum").item()
            mask = torch.arange(gold.size(1), device=gold.device)[None] < target_lengths[:, None]
            correct += int((logits.argmax(-1) == gold)[mask].sum())
            count += int(target_lengths.sum())
            room = self.eval_sentences - len(hypotheses)
            if room > 0:
                out = decode(model, source[:room], lengths[:room], beam=1, max_length=self.max_length + 1)
                hypotheses += [detokenize(vocab, ids) for ids in out.tokens]
                references += [detokenize(vocab, row[1:n].tolist()) for row, n in zip(targets[:room], target_lengths)]
        loss = total / max(count, 1)
        metrics = {"loss": loss, "ppl": math.exp(min(loss, 700.0)), "accuracy": correct / max(count, 1)}
        return {**metrics, **(text_metrics(hypotheses, references) if hypotheses else {})}

