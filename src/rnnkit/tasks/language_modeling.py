"""Language modelling: predict the next token of a text stream (char, word or BPE level).

Each split is laid out as `batch_size` parallel streams (B, L) and trained with truncated BPTT,
the state carried from chunk to chunk through the whole epoch (`carries_state`). Evaluation
reads a whole split the same way and reports perplexity (ppl = exp of the mean cross-entropy)
and, at char level, bits per character (bpc = mean cross-entropy / ln 2).

AWD-LSTM (Merity et al. 2017) is config: [model] weight_drop, dropout, input_dropout,
output_dropout; [task] embedding_dropout, tie_weights, ar, tar; [train] random_bptt;
[optim] name = "ntasgd". AR penalises large (dropped) outputs, ar * mean(y_drop^2); TAR penalises
fast-changing raw outputs, tar * mean((y_t - y_{t-1})^2).

Your own text: `path` is a folder of train/valid/test files, a folder of any text files, or one
file (data/corpora.py); the split records which files and lines each part holds (Splits.ids).
Baselines (lm_baselines.py): a unigram and a Kneser-Ney n-gram on the model's own tokens.

A saved run keeps the vocabulary in meta.json; its predictor continues prompts and answers the
embedding queries of `rnnkit similar`:

    saved = rnnkit.load("runs/ptb_small")
    saved.predict("the company said", tokens=20, greedy=True)      # the continuation, without the prompt
    saved.predictor.nearest("money", k=10)                         # [(word, cosine similarity), ...]
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from ..data.batch import Batch, Splits
from ..data.corpora import NAMES, Corpus, load_corpus
from ..data.exclude import drop_lines, read_excluded
from ..data.labelled import normalize_text
from ..data.text import LEVELS, Vocab, batchify_stream, stream_chunks
from ..models.embeddings import analogy, nearest, pca_points
from ..models.generate import generate
from ..models.language_model import LanguageModel
from ..models.stack import build_rnn
from .base import Meta, Metrics
from .lm_baselines import ngram_baselines, ordered_metrics


@dataclass(frozen=True)
class TextSplits(Splits):
    vocab: Vocab | None = None


@dataclass(frozen=True)
class LanguageModeling:
    # "shakespeare", "ptb", "imdb" (the training reviews), a directory of train/valid/test files, or one file
    path: str = "shakespeare"
    level: str = ""                 # char, word or bpe; "" = the corpus's usual level (ptb, imdb: word, else char)
    max_vocab: int = 0              # keep the most frequent tokens (0 = all; bpe: the subword count, 0 = 8000)
    min_count: int = 1              # rarer tokens read as <unk>
    valid_fraction: float = 0.05    # one file, or a folder of files not named train/valid/test: the share of
                                    # lines held out for valid (after train) ...
    test_fraction: float = 0.05     # ... and for test (at the end)
    batch_size: int = 20            # parallel training streams (rows of the (B, L) layout)
    eval_batch_size: int = 10       # parallel streams in evaluation
    eval_bptt: int = 200            # chunk length in evaluation (memory only; the state is carried)
    embedding_size: int = 0         # 0 = model.hidden_size
    tie_weights: bool = False       # Press & Wolf 2017; Inan et al. 2017
    embedding_dropout: float = 0.0  # drop whole words (Gal & Ghahramani 2016)
    init_range: float = 0.0         # > 0: every parameter ~ U(-r, r) (Zaremba et al. 2014: 0.1)
    ar: float = 0.0                 # activation regularisation (Merity et al. 2017: 2)
    tar: float = 0.0                # temporal activation regularisation (Merity et al. 2017: 1)
    # texts to keep out of the corpus (a classifier's test texts): a .csv/.tsv/.jsonl file with a text
    # column, or one text per line; corpus lines holding any of them are dropped (data/exclude.py)
    exclude: str = ""
    # lower-case and split punctuation from words as text classification reads text (labelled.normalize_text):
    # a language model meant to start a classifier (task.pretrained there) must read words the same way
    normalize: bool = False

    carries_state = True

    def __post_init__(self) -> None:
        if self.level not in ("", *LEVELS):
            raise ValueError(f"task.level must be one of {list(LEVELS)} (or empty), got {self.level!r}")
        for name in ("batch_size", "eval_batch_size", "eval_bptt", "min_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"task.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_vocab < 0 or self.max_vocab == 1 or self.embedding_size < 0:
            raise ValueError("task.max_vocab must be 0 or >= 2 and task.embedding_size >= 0")
        if not 0 <= self.embedding_dropout < 1 or self.init_range < 0 or self.ar < 0 or self.tar < 0:
            raise ValueError("task.embedding_dropout must be in [0, 1) and init_range, ar, tar >= 0")

    def resolved_level(self) -> str:
        return self.level or ("word" if self.path in ("ptb", "imdb") else "char")

    def load(self) -> TextSplits:
        corpus = load_corpus(self.path, valid_fraction=self.valid_fraction, test_fraction=self.test_fraction)
        if self.normalize:
            corpus = dataclasses.replace(corpus, **{name: normalized(getattr(corpus, name))
                                                    for name in ("train", "valid", "test")})
        if self.exclude:
            corpus = self._without(corpus)
        vocab = Vocab.build(corpus.train, level=self.resolved_level(), max_size=self.max_vocab or None,
                            min_count=self.min_count)
        splits, ids = {}, {}
        for name, text, rows in (("train", corpus.train, self.batch_size), ("valid", corpus.valid,
                                 self.eval_batch_size), ("test", corpus.test, self.eval_batch_size)):
            tokens = vocab.encode(text)
            # what the split holds (plays, files and lines), a digest of its text, and the targets scored
            ids[name] = {**corpus.parts.get(name, {}), "sha256": hashlib.sha256(text.encode()).hexdigest()[:16],
                         "targets": 0}
            if name == "test" and tokens.numel() <= rows:
                splits[name] = None                          # a split file with no test part
                continue
            if tokens.numel() <= rows:
                where = self.path if self.path in NAMES else f"the {name} part of {self.path}"
                knob = "batch_size" if name == "train" else "eval_batch_size"
                raise ValueError(f"{where} has {tokens.numel()} tokens, too few for {rows} streams; "
                                 f"give more text or lower task.{knob}")
            splits[name] = batchify_stream(tokens, rows)
            ids[name]["targets"] = splits[name].targets.numel()
        return TextSplits(splits["train"], splits["valid"], splits["test"], ids=ids, vocab=vocab)

    def _without(self, corpus: Corpus) -> Corpus:
        """`corpus` without the lines that hold any text of task.exclude (counted in its parts)."""
        excluded = read_excluded(self.exclude)
        kept, dropped = {}, {}
        for name in ("train", "valid", "test"):
            kept[name], dropped[name] = drop_lines(getattr(corpus, name), excluded)
        print(f"task.exclude: dropped {sum(dropped.values()):,} corpus lines holding one of the {len(excluded):,} "
              f"texts of {self.exclude} (train {dropped['train']}, valid {dropped['valid']}, test {dropped['test']})",
              flush=True)
        parts = {name: {**corpus.parts.get(name, {}), "excluded_lines": dropped[name]} for name in kept}
        return dataclasses.replace(corpus, **kept, parts=parts)

    def describe(self, data: Splits) -> Meta:
        vocab = getattr(data, "vocab", None)
        if vocab is None:
            raise ValueError("language_modeling describes the vocabulary of its own load()")
        return {"vocab": vocab.to_dict()}

    def build_model(self, cfg: ModelConfig, meta: Meta) -> LanguageModel:
        size = self.embedding_size or cfg.hidden_size
        return LanguageModel(len(meta["vocab"]["tokens"]), build_rnn(cfg, size), embedding_size=size,
                             tie_weights=self.tie_weights, embedding_dropout=self.embedding_dropout,
                             input_dropout=cfg.input_dropout, output_dropout=cfg.output_dropout,
                             init_range=self.init_range or None)

    def predictor(self, model: nn.Module, meta: Meta) -> LanguageModelPredictor:
        if not isinstance(model, LanguageModel):
            raise TypeError(f"a language_modeling predictor needs a LanguageModel, got {type(model).__name__}")
        return LanguageModelPredictor(model, Vocab.from_dict(meta["vocab"]))

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]:
        if not (self.ar or self.tar):
            logits, state = model(batch.inputs, state)                           # (B, T, V)
            return F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.flatten()), state
        lm = getattr(model, "module", model)                 # AR/TAR need the outputs themselves
        raw, state = lm.hidden(batch.inputs, state)                              # (B, T, H)
        dropped = lm.output_dropout(raw)
        logits = lm.decoder(dropped)                                             # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), batch.targets.flatten())
        if self.ar:
            loss = loss + self.ar * dropped.float().pow(2).mean()
        if self.tar and raw.size(1) > 1:
            loss = loss + self.tar * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
        return loss, state

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics:
        """Summed cross-entropy over every target of every batch, the state carried through each
        batch (a (B, L) bundle of streams) chunk by chunk."""
        total, count = 0.0, 0
        for batch in batches:
            state = None
            for chunk in stream_chunks(batch, self.eval_bptt):
                logits, state = model(chunk.inputs, state)
                total += F.cross_entropy(logits.flatten(0, 1).float(), chunk.targets.flatten(),
                                         reduction="sum").item()
                count += chunk.targets.numel()
        return ordered_metrics(total, count, self.resolved_level())

    def baselines(self, data: Splits, splits: Sequence[str]) -> dict[str, dict[str, Metrics]]:
        """Kneser-Ney n-grams on the model's tokens, scored on the same targets (lm_baselines.py)."""
        return ngram_baselines(data.train, data.valid, {split: getattr(data, split) for split in splits},
                               self.resolved_level())



def normalized(text: str) -> str:
    """Each line of `text` in the classifier's normal form (blank lines kept, so line counts hold)."""
    return "".join(normalize_text(line) + "\n" for line in text.splitlines())


class LanguageModelPredictor:
    """Continues prompts with a trained language model (models/generate.py), and queries its input
    embeddings with the run's vocabulary (models/embeddings.py)."""

    def __init__(self, model: LanguageModel, vocab: Vocab) -> None:
        self.model, self.vocab = model, vocab

    def predict(self, prompts: str | Sequence[str], *, tokens: int = 100, temperature: float = 1.0,
                top_k: int = 0, top_p: float = 1.0, greedy: bool = False, seed: int | None = None,
                beams: int = 1, on_text: Callable[[str], None] | None = None) -> str | list[str]:
        """The `tokens` tokens after each prompt, as text without the prompt: one string for one
        prompt, a list for a list. Sampling by default (temperature, top-k, top-p; `seed` makes
        it repeatable, each prompt drawn with the same seed), `greedy` takes the most likely
        token, `beams > 1` runs beam search. `on_text` receives the text as it is generated."""
        texts = [prompts] if isinstance(prompts, str) else list(prompts)
        out = [generate(self.model, self.vocab, prompt, tokens=tokens, temperature=temperature, top_k=top_k,
                        top_p=top_p, greedy=greedy, seed=seed, beams=beams, on_text=on_text) for prompt in texts]
        return out[0] if isinstance(prompts, str) else out

    def nearest(self, word: str, *, k: int = 10) -> list[tuple[str, float]]:
        """The k tokens whose input embeddings are closest (cosine) to `word`'s."""
        return nearest(self.model, self.vocab, word, k=k)

    def analogy(self, a: str, b: str, c: str, *, k: int = 5) -> list[tuple[str, float]]:
        """a : b :: c : ?, the k tokens nearest to b - a + c."""
        return analogy(self.model, self.vocab, a, b, c, k=k)

    def pca(self, *, count: int = 200) -> tuple[list[str], Tensor]:
        """The `count` most frequent tokens and their embeddings on two principal components (N, 2)."""
        return pca_points(self.model, self.vocab, count=count)
