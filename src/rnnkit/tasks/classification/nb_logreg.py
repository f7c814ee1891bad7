"""Naive Bayes-weighted word 1-2-grams + logistic regression: the n-gram model a text run pools
with its network (text_select.py), and a baseline beside TF-IDF (baselines.text_baselines).

NBSVM (Wang & Manning 2012, "Baselines and bigrams") scales each binary n-gram feature by its
naive Bayes log-count ratio

    r = log((p / |p|_1) / (q / |q|_1)),   p = alpha + sum of the 0/1 rows of the class,
                                          q = alpha + sum of the 0/1 rows of the others, alpha = 1

and fits a linear classifier on x * r: the ratio tells the regression which n-grams carry the
class before it has seen enough examples to learn it, which is why it beats a plain bag of words
most on small sets (their table 2: 79.4 against 77.7 on RT sentences, 91.2 against 89.2 on IMDB).
We fit a logistic regression (probabilities, which the blend needs) instead of their interpolated
SVM, the "NB-LR" variant. Measured on rnnkit's splits (docs/results.md): UCI sentences 0.833 against
TF-IDF's 0.800, full IMDB 0.915 against 0.910, IMDB with 1,000 labels 0.832-0.838 against 0.839.
More than two classes: one regression per class against the rest, each with its own r.

C is the grid's with the best validation accuracy, ties broken by the lower validation
cross-entropy (the text selection's own rule); the model comes back as an NgramLogReg of kind
"nb", r folded into its coefficients.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
from torch import Tensor

from .ngrams import NgramLogReg

INSTALL = "pip install 'rnnkit[classify]'"
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
ALPHA = 1.0                 # Laplace smoothing of the counts (Wang & Manning's alpha)


def fit_nb_logreg(texts: dict[str, tuple[list[str], Tensor]], num_classes: int) -> NgramLogReg:
    """The model fitted on texts["train"], its C chosen on texts["valid"]; says which C it chose."""
    try:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits
    except ImportError as error:
        raise ImportError(f"the n-gram model needs scikit-learn: {INSTALL} ({error})") from error
    (train, y_train), (valid, y_valid) = texts["train"], texts["valid"]
    y_train_np, y_valid_np = y_train.numpy(), y_valid.numpy()
    # the texts are normalised already (lower case, punctuation split off): keep rnnkit's tokens
    vectorizer = CountVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=False, binary=True)
    x_train = vectorizer.fit_transform(train).astype(np.float64)                     # (N, F) 0/1
    classes = np.unique(y_train_np)
    if len(classes) < 2:
        raise ValueError(f"the n-gram model needs at least two classes in the training texts, got {classes.tolist()}")
    # one target per regression: the second class against the first for two, each against the rest for more
    targets = classes[1:] if len(classes) == 2 else classes
    ratios = np.stack([log_count_ratio(x_train, y_train_np == k) for k in targets])          # (K, F)
    best: tuple | None = None
    # one BLAS thread: L-BFGS on sparse features does only small dense steps (see baselines.py)
    with threadpool_limits(limits=1):
        for c in C_GRID:
            fitted = [LogisticRegression(C=c, max_iter=3000).fit(x_train @ sp.diags(r), y_train_np == k)
                      for r, k in zip(ratios, targets)]
            coef = np.stack([m.coef_[0] for m in fitted]) * ratios                          # (K, F): r folded in
            intercept = np.array([m.intercept_[0] for m in fitted])
            model = NgramLogReg.from_vocabulary(vectorizer.vocabulary_, np.ones(x_train.shape[1]), coef, intercept,
                                                classes.astype(np.int64), num_classes, "nb")
            accuracy, loss = _accuracy_and_loss(model.probabilities(valid), y_valid_np)
            if best is None or (accuracy, -loss) > (best[0], -best[1]):
                best = (accuracy, loss, c, model)
    assert best is not None
    print(f"nb_logreg: C={best[2]:g} chosen on valid (accuracy {best[0]:.4f}, loss {best[1]:.4f}), "
          f"{x_train.shape[1]} n-grams", file=sys.stderr, flush=True)
    return best[3]


def _accuracy_and_loss(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Accuracy and mean cross-entropy (clipped as baselines.scores clips) of (N, C) probabilities."""
    if not len(y):
        return 0.0, 0.0
    return float((p.argmax(1) == y).mean()), float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1.0)).mean())


def log_count_ratio(x: sp.csr_matrix, positive: np.ndarray) -> np.ndarray:
    """(F,) r = log((p / |p|_1) / (q / |q|_1)) of the 0/1 rows x (N, F) with `positive` (N,) against the rest."""
    p = ALPHA + np.asarray(x[positive].sum(axis=0)).ravel()
    q = ALPHA + np.asarray(x[~positive].sum(axis=0)).ravel()
    return np.log(p / p.sum()) - np.log(q / q.sum())
