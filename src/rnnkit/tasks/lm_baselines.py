"""The baselines of a language model: interpolated Kneser-Ney n-grams (models/word_lm.py) over the
model's own tokens, scored on exactly the targets `LanguageModeling.evaluate` scores.

A split is a (B, L) bundle of streams whose state starts afresh at each row, so the n-gram's
history restarts there too (a sentence start): target [b, t] is predicted from inputs [b, :t + 1],
the last order - 1 of them. Tokens are the vocabulary's ids, so an out-of-vocabulary token is
the same event (the unknown id) for the model and for the n-gram, at every level (char, word, bpe).

Two rows: `unigram`, and `kneser_ney_Ngram` with the order N that does best on the validation
split among ORDERS (tuned once and kept for the test split). Counting is pure Python, so the
n-grams read at most MAX_TOKENS training tokens (about 25 s for 4.4 M characters at orders 3, 5, 7).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from torch import Tensor

from ..data.batch import Batch
from ..data.text import perplexity_metrics
from ..models.word_lm import WordNGram
from .base import Metrics

ORDERS = {"char": (3, 5, 7), "word": (2, 3), "bpe": (2, 3, 4)}   # beyond these, held-out perplexity got worse
MAX_TOKENS = 5_000_000      # about 1 GB of counts at order 7 (characters); 30 s of counting per order


def ordered_metrics(total_nll: float, count: int, level: str) -> Metrics:
    """perplexity_metrics with the early-stopping default first: bpc at char level, else ppl."""
    metrics = perplexity_metrics(total_nll, count, level=level)           # type: ignore[arg-type]
    first = "bpc" if "bpc" in metrics else "ppl"
    return {first: metrics.pop(first), **metrics}


def ngram_baselines(train: Batch, valid: Batch, scored: Mapping[str, Batch],
                    level: str) -> dict[str, dict[str, Metrics]]:
    """{split: {"unigram": metrics, "kneser_ney_Ngram": metrics}} for each batch of `scored`, with
    the metrics of evaluate; the models fitted once."""
    models = fitted(train.inputs, train.targets, valid, level)
    return {split: {name: ordered_metrics(total_nll(lm, part), part.targets.numel(), level)
                    for name, lm in models.items()} for split, part in scored.items()}


def fitted(train_inputs: Tensor, train_targets: Tensor, valid: Batch, level: str) -> dict[str, WordNGram]:
    """The unigram and the best of ORDERS[level] on the validation streams, fitted on the training
    stream (its rows laid end to end give the text back, as batchify_stream cut it)."""
    flat = train_inputs.flatten()
    stream = flat[:MAX_TOKENS].tolist() + ([int(train_targets[-1, -1])] if len(flat) < MAX_TOKENS else [])
    names = [str(i) for i in range(max(stream) + 1)]                     # one string per id, shared
    text = " ".join(names[i] for i in stream)
    fit = lambda order: WordNGram.train([text], order=order)
    best = min((fit(order) for order in ORDERS[level]), key=lambda lm: total_nll(lm, valid))
    return {"unigram": fit(1), f"kneser_ney_{best.order}gram": best}


def total_nll(lm: WordNGram, split: Batch) -> float:
    """Summed negative log-likelihood (nats) of every target of the (B, L) split, each row a fresh stream."""
    total, context = 0.0, lm.order - 1
    for inputs, targets in zip(split.inputs.tolist(), split.targets.tolist()):
        words = [str(i) for i in inputs]
        for t, target in enumerate(targets):
            total -= lm.score(tuple(words[max(0, t + 1 - context):t + 1]) if context else (), str(target))
    return total if math.isfinite(total) else math.inf
