"""Validated selection for text classifiers (task.select = "validate"): after training, the network,
naive Bayes-weighted 1-2-grams + logistic regression (NBSVM's features; nb_logreg.py, saved as
ngrams.py) and a blend of the two (`blend_weights`: their log-linear pool, two weights fitted on
the validation texts) each classify the validation texts, and
the one with the best validation accuracy is kept (ties: the lower validation cross-entropy, then
the order of CANDIDATES).

Why: on a few hundred or thousand labelled texts a bag of n-grams is hard to beat (Wang & Manning
2012), and a recurrent model and a bag of n-grams err on different texts, so a combination is often
better than either: Mesnil et al. (2015, "Ensemble of generative and discriminative techniques for
sentiment analysis of movie reviews") combined an RNN language model with NB-SVM on IMDB, weighted
on validation data. Choosing among the three on the validation split, as forecasting chooses
between the network and Theta/ETS (forecasting/select.py), keeps the default from losing much to
the first baseline a practitioner tries while the network decides wherever it validates better.

The choice is kept in meta.json under "selection", with every candidate's validation (and, where
the run has one, test) metrics, the test ones recorded beside the choice and never used for it:

    {"choice": "blend(network,nb_logreg)", "weights": {"network": 0.3, "nb_logreg": 1.9},
     "valid": {"network": {"accuracy": ..., "loss": ...}, ...}, "test": {...}}

and, unless the network was chosen, the n-gram model in RUN_DIR/ngrams.safetensors. Every prediction
of the run (`rnnkit.load(run).predict`, `rnnkit classify predict|eval`, `rnnkit serve`) follows it;
an exported graph is the network alone. Runs of rnnkit before 2026-12-07 pooled TF-IDF + logistic
regression instead ("tfidf_logreg", "blend(network,tfidf_logreg)"; their n-gram file says kind
"tfidf"): they load and predict as they chose.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from scipy.optimize import minimize
from torch import Tensor

from ..base import Metrics
from .baselines import scores

SELECT = ("validate", "network")
NETWORK, NGRAMS, BLEND = "network", "nb_logreg", "blend(network,nb_logreg)"
CANDIDATES = (NETWORK, BLEND, NGRAMS)          # the order breaks exact ties: the network first
LEGACY = {"tfidf_logreg": NGRAMS, "blend(network,tfidf_logreg)": BLEND}   # the names of older runs' choices
WEIGHT_MAX = 20.0                             # bound on each blend weight


def blend_weights(network: np.ndarray, ngrams: np.ndarray, y: Tensor) -> dict[str, float]:
    """{NETWORK: a, NGRAMS: b}, a, b >= 0, whose log-linear pool softmax(a log p + b log q) has the
    lowest cross-entropy on the targets (N,): a stacked combination fitted on the validation texts
    (Wolpert 1992), two numbers, so it does not overfit a few hundred of them. It learns how much
    each model is worth and how confident it should be at once: a network fine-tuned to its
    training texts is far more confident than an L2-regularised regression, and a plain mean of
    their probabilities follows the network wherever they disagree, whichever is right more often
    (measured on IMDB with 1,000 labels: docs/results.md). Either alone is the pool with the other's
    weight at 0."""
    log_p, log_q = _log(network), _log(ngrams)
    rows, target = np.arange(len(y)), y.numpy()

    def loss(w: np.ndarray) -> float:
        return float(-_pool(log_p, log_q, w[0], w[1])[rows, target].mean())

    fit = minimize(loss, x0=np.array([0.5, 0.5]), bounds=[(0.0, WEIGHT_MAX)] * 2, method="L-BFGS-B")
    return {NETWORK: float(fit.x[0]), NGRAMS: float(fit.x[1])}


def combine(choice: str, network: np.ndarray, ngrams: np.ndarray | None,
            weights: Mapping[str, float] | None = None) -> np.ndarray:
    """(N, C) probabilities of `choice` from the network's and the n-gram model's (N, C); the blend
    is their log-linear pool with the validation `weights` ({NETWORK: a, NGRAMS: b})."""
    if choice == NETWORK:
        return network
    if ngrams is None:
        raise ValueError(f"the selection {choice!r} needs the run's n-gram model")
    if LEGACY.get(choice, choice) == NGRAMS:
        return ngrams
    if LEGACY.get(choice, choice) != BLEND:
        raise ValueError(f"unknown text selection {choice!r}: one of {list(CANDIDATES)}")
    w = {LEGACY.get(k, k): v for k, v in (weights or {NETWORK: 0.5, NGRAMS: 0.5}).items()}
    return np.exp(_pool(_log(network), _log(ngrams), w[NETWORK], w[NGRAMS]))


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-15, 1.0))           # clipped as baselines.scores clips: a zero is not -inf


def _pool(log_p: np.ndarray, log_q: np.ndarray, a: float, b: float) -> np.ndarray:
    """(N, C) log-probabilities of the log-linear pool softmax(a log p + b log q)."""
    z = a * log_p + b * log_q
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def candidates(network: np.ndarray, ngrams: np.ndarray, weights: Mapping[str, float]) -> dict[str, np.ndarray]:
    return {name: combine(name, network, ngrams, weights) for name in CANDIDATES}


def metrics_of(probabilities: Mapping[str, np.ndarray], y: Tensor) -> dict[str, Metrics]:
    """{candidate: loss, accuracy and macro-F1} on the targets (N,)."""
    return {name: scores(y, torch.from_numpy(p.argmax(1)), p) for name, p in probabilities.items()}


def pick(valid: Mapping[str, Metrics]) -> str:
    """The candidate of best validation accuracy; ties: lower loss, then CANDIDATES' order."""
    return min(CANDIDATES, key=lambda n: (-valid[n]["accuracy"], valid[n]["loss"], CANDIDATES.index(n)))


def show(selection: dict) -> str:
    """The selection as a table: one row per candidate, its valid (and test) accuracy and loss."""
    splits = [s for s in ("valid", "test") if s in selection]
    head = "candidate".ljust(28) + "".join(f"{s + ' accuracy':>16}{s + ' loss':>12}" for s in splits)
    rows = [head]
    for name in CANDIDATES:
        mark = "  <- chosen" if name == selection["choice"] else ""
        rows.append(name.ljust(28) + "".join(f"{selection[s][name]['accuracy']:>16.4f}"
                                             f"{selection[s][name]['loss']:>12.4f}" for s in splits) + mark)
    return "\n".join(rows)
