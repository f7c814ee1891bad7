"""The baselines a practitioner tries before a recurrent classifier, scored with the task's own
metrics on the same examples (`pip install 'rnnkit[classify]'`: scikit-learn and aeon).

- texts: `tfidf_logreg`, TF-IDF of word 1- and 2-grams with sublinear term frequencies and a
  logistic regression, its C (0.1, 1, 10 or 100) the one with the best validation accuracy (the
  smaller on ties), the first a practitioner tries; `nb_logreg`, NBSVM's naive Bayes-weighted
  1-2-gram indicators with a logistic regression (nb_logreg.py), the stronger bag of n-grams and
  the one a text run pools with its network. Their tokens are rnnkit's own (the normalised text
  split at spaces).
- sequences: `1nn_dtw`, the nearest training sequence under dynamic time warping over all
  channels at once (DTW_D, full window), the classic UCR/UEA benchmark (Bagnall et al. 2017);
  `minirocket_ridge`, MiniRocket features (Dempster et al. 2021) with a ridge classifier whose
  penalty is chosen by leave-one-out on the training split, as in the paper. Both read the
  features standardised as the model reads them (task.standardize).

`loss` (mean cross-entropy) is reported only by the logistic regression: a nearest neighbour or a
ridge classifier gives no probabilities to score. A baseline whose cost would run to hours on the
data (DTW compares every pair of sequences; MiniRocket keeps ~10,000 features per example) is
skipped with a line on stderr rather than left to run.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ...data.batch import Batch
from ...data.labelled import FILLER
from ..base import Metrics
from .metrics import accuracy, macro_f1
from .nb_logreg import fit_nb_logreg

INSTALL = "pip install 'rnnkit[classify]'"
C_GRID = (0.1, 1.0, 10.0, 100.0)
DTW_BUDGET = 2e10               # DTW cell updates (pairs x T x T' x C): about two minutes on one core
MINIROCKET_MAX_TRAIN = 10_000   # 10,000 x 9,996 float64 features = 0.8 GB; the paper moves to SGD beyond
MINIROCKET_MIN_LENGTH = 9       # its kernels are 9 steps long


def scores(y: Tensor, predicted: Tensor, probabilities: np.ndarray | None = None) -> Metrics:
    """The task's metrics (outcome().metrics()): loss only where there are probabilities (N, C)."""
    out: Metrics = {}
    if probabilities is not None:
        # clipped as scikit-learn's log_loss is: one confident mistake must not make the mean infinite
        p = np.clip(probabilities[np.arange(len(y)), y.numpy()], 1e-15, 1.0)
        out["loss"] = float(-np.log(p).mean())
    return {**out, "accuracy": accuracy(y, predicted), "macro_f1": macro_f1(y, predicted)}


def text_baselines(texts: dict[str, tuple[list[str], Tensor]], splits: Sequence[str]) -> dict[str, dict[str, Metrics]]:
    """{split: {"tfidf_logreg": metrics, "nb_logreg": metrics}} for each of `splits`, both fitted once
    on texts["train"], their C chosen on texts["valid"]."""
    tfidf, best = fit_tfidf_logreg(texts)
    num_classes = int(max(max(texts[split][1].max() for split in splits), texts["train"][1].max())) + 1
    nb = fit_nb_logreg(texts, num_classes)
    out = {}
    for split in splits:
        scored, y = texts[split]
        x = tfidf.transform(scored)
        probabilities = np.zeros((len(scored), num_classes))
        probabilities[:, best.classes_] = best.predict_proba(x)
        q = nb.probabilities(scored)                                                   # (N, C)
        out[split] = {"tfidf_logreg": scores(y, torch.from_numpy(best.predict(x)), probabilities),
                      "nb_logreg": scores(y, torch.from_numpy(q.argmax(1)), q)}
    return out


def fit_tfidf_logreg(texts: dict[str, tuple[list[str], Tensor]]) -> tuple[Any, Any]:
    """(the fitted TfidfVectorizer, the LogisticRegression whose C validated best) on texts["train"]
    and texts["valid"]; says which C it chose."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits
    except ImportError as error:
        raise ImportError(f"the text baselines need scikit-learn: {INSTALL} ({error})") from error
    (train, y_train), (valid, y_valid) = texts["train"], texts["valid"]
    # the texts are normalised already (lower case, punctuation split off): keep rnnkit's tokens
    tfidf = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=False, sublinear_tf=True)
    x_train = tfidf.fit_transform(train)
    x_valid = tfidf.transform(valid)
    best, best_accuracy = None, -1.0
    # one BLAS thread: L-BFGS on sparse TF-IDF does only small dense steps, where threads mostly wait
    # on each other (60x slower on a busy 2-core machine)
    with threadpool_limits(limits=1):
        for c in C_GRID:
            model = LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train.numpy())
            score = accuracy(y_valid, torch.from_numpy(model.predict(x_valid)))
            if score > best_accuracy:
                best, best_accuracy = model, score
    assert best is not None
    print(f"tfidf_logreg: C={best.C:g} chosen on valid (accuracy {best_accuracy:.4f}), {x_train.shape[1]} "
          "n-grams", file=sys.stderr, flush=True)
    return tfidf, best


def examples(split: Batch, mean: Sequence[float] | None = None,
             std: Sequence[float] | None = None) -> tuple[list[np.ndarray], Tensor]:
    """(each real example as a (C, T_i) float64 array, standardised if `mean` is given; class ids
    (N,)), from a padded or bucketed (K, B, ...) split with its filler rows dropped."""
    x, n, y = split.inputs, split.lengths, split.targets
    if y.dim() == 2:
        x, n, y = x.flatten(0, 1), n.flatten(), y.flatten()
    keep = y != FILLER
    x, n, y = x[keep].double(), n[keep], y[keep]
    if mean is not None and std is not None:
        x = (x - torch.tensor(mean, dtype=torch.float64)) / torch.tensor(std, dtype=torch.float64)
    return [s[:length].T.numpy().copy() for s, length in zip(x, n.tolist())], y


def sequence_baselines(train: Batch, scored: Mapping[str, Batch], *, mean: Sequence[float] | None = None,
                       std: Sequence[float] | None = None, seed: int = 0) -> dict[str, dict[str, Metrics]]:
    """{split: {"1nn_dtw": metrics, "minirocket_ridge": metrics}} for each batch of `scored`, both
    fitted once on `train`."""
    x_train, y_train = examples(train, mean, std)
    parts = {split: examples(part, mean, std) for split, part in scored.items()}
    threads = torch.get_num_threads()
    try:
        return _fit_sequence_baselines(x_train, y_train, parts, seed=seed)
    finally:
        # numba's OpenMP layer, started by aeon, sets every OpenMP thread count, torch's included:
        # the model would then run (and round) differently after its baselines than before
        torch.set_num_threads(threads)


def _fit_sequence_baselines(x_train: list[np.ndarray], y_train: Tensor,
                            parts: Mapping[str, tuple[list[np.ndarray], Tensor]], *,
                            seed: int) -> dict[str, dict[str, Metrics]]:
    try:
        from aeon.classification.convolution_based import MiniRocketClassifier
        from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
    except ImportError as error:
        raise ImportError(f"the sequence baselines need aeon: {INSTALL} ({error})") from error
    out: dict[str, dict[str, Metrics]] = {split: {} for split in parts}
    with warnings.catch_warnings():              # aeon's numba DTW warns of an index cast, harmlessly
        warnings.filterwarnings("ignore", message=".*unsafe cast.*")
        dtw = KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1).fit(x_train, y_train.numpy())
        for split, (x, y) in parts.items():
            cost = len(x_train) * len(x) * _mean_length(x_train) * _mean_length(x) * x[0].shape[0]
            if cost <= DTW_BUDGET:
                out[split]["1nn_dtw"] = scores(y, torch.from_numpy(dtw.predict(x).astype(np.int64)))
            else:
                _skipped("1nn_dtw", f"{cost:.2g} DTW cell updates (more than {DTW_BUDGET:.0e}) would take hours "
                         f"on the {split} split")
        if len(x_train) <= MINIROCKET_MAX_TRAIN:
            length = max(MINIROCKET_MIN_LENGTH, max(s.shape[1] for s in x_train))
            rocket = MiniRocketClassifier(random_state=seed).fit(fixed_length(x_train, length), y_train.numpy())
            for split, (x, y) in parts.items():
                predicted = rocket.predict(fixed_length(x, length)).astype(np.int64)
                out[split]["minirocket_ridge"] = scores(y, torch.from_numpy(predicted))
        else:
            _skipped("minirocket_ridge", f"{len(x_train)} training sequences (more than {MINIROCKET_MAX_TRAIN}) would "
                     f"need {len(x_train) * 9996 * 8 / 1e9:.1f} GB of features")
    return out


def fixed_length(series: list[np.ndarray], length: int) -> np.ndarray:
    """(N, C, length): MiniRocket convolves equal-length arrays, so each (C, T_i) sequence is cut
    to `length` or padded by repeating its last step (zeros would add a step the data never had,
    which the kernels' bias quantiles then count as a feature)."""
    out = np.empty((len(series), series[0].shape[0], length))
    for i, s in enumerate(series):
        t = min(length, s.shape[1])
        out[i, :, :t] = s[:, :t]
        out[i, :, t:] = s[:, t - 1:t]
    return out


def _mean_length(series: list[np.ndarray]) -> float:
    return float(np.mean([s.shape[1] for s in series]))


def _skipped(name: str, why: str) -> None:
    print(f"{name}: skipped, {why}", file=sys.stderr, flush=True)
