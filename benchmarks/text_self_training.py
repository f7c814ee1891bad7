"""A diagnostic of the IMDB-with-1,000-labels gap (issue #18): can the unlabelled training reviews
help through the n-gram model instead of the encoder? Self-training (Yarowsky 1995) of NB-LR:
fit on the labelled reviews, label the rest of the training pool with the model, refit on the
labelled reviews plus the most confident of its own labels (half per class), C chosen on the
validation reviews each round; prints each round's valid and test accuracy.

    python benchmarks/text_self_training.py                           # rounds at 20%, 40%, 60%
    python benchmarks/text_self_training.py --fractions 0.1 0.2

The split is TextClassification's IMDB-1k with `task.seed = 0` (900 / 100 / 24,582); the unlabelled
reviews are the other 23,999 of IMDB's training pool (never a test review). About 20 minutes on one
core, most of it in building the 1.4 M n-gram vocabulary and in the refits.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from rnnkit.data import labelled
from rnnkit.tasks.classification import TextClassification
from rnnkit.tasks.classification.nb_logreg import C_GRID, log_count_ratio
from rnnkit.tasks.classification.sources import text_parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.2, 0.4, 0.6],
                        help="the share of the unlabelled reviews added in each round, most confident first")
    args = parser.parse_args()
    start = time.perf_counter()
    texts = TextClassification(path="imdb", train_size=1000, pretrained="").load().texts
    assert texts is not None
    (train, y_train), (valid, y_valid), (test, y_test) = (texts[s] for s in ("train", "valid", "test"))
    y_train, y_valid, y_test = y_train.numpy(), y_valid.numpy(), y_test.numpy()
    parts = text_parts("imdb", text_column="text", label_column="label", seed=0, valid_fraction=0.1)
    pool = [labelled.normalize_text(t) for name in ("train", "valid") if name in parts for t in parts[name].inputs]
    used = set(train) | set(valid)
    unlabelled = [t for t in pool if t not in used]
    vectorizer = CountVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=False, binary=True)
    vectorizer.fit(train + unlabelled)
    x_train, x_valid, x_test, x_unl = (vectorizer.transform(t).astype(np.float64)
                                       for t in (train, valid, test, unlabelled))
    print(f"{len(train)} / {len(valid)} / {len(test)} reviews, {len(unlabelled)} unlabelled, "
          f"{x_train.shape[1]} n-grams ({time.perf_counter() - start:.0f} s)", flush=True)

    def fit(x: sp.csr_matrix, y: np.ndarray):
        """NB-LR on (x, y), C by valid accuracy then loss; (valid accuracy, test accuracy, C, P(1|x) of x_unl)."""
        r = sp.diags(log_count_ratio(x, y == 1))
        best = None
        for c in C_GRID:
            model = LogisticRegression(C=c, max_iter=3000).fit(x @ r, y)
            p = model.predict_proba(x_valid @ r)[:, 1]
            loss = -np.mean(np.log(np.clip(np.where(y_valid == 1, p, 1 - p), 1e-15, 1)))
            key = (float(((p > 0.5) == y_valid).mean()), -loss)
            if best is None or key > best[0]:
                best = (key, c, model)
        (accuracy, _), c, model = best
        tested = float(((model.predict_proba(x_test @ r)[:, 1] > 0.5) == y_test).mean())
        return accuracy, tested, c, model.predict_proba(x_unl @ r)[:, 1]

    valid_acc, test_acc, c, p_unl = fit(x_train, y_train)
    print(f"labelled only: C={c:g}  valid {valid_acc:.3f}  test {test_acc:.4f}", flush=True)
    for fraction in args.fractions:
        half = int(len(unlabelled) * fraction) // 2
        order = np.argsort(p_unl)
        picked = np.concatenate([order[:half], order[-half:]])         # the most confident of each class
        x = sp.vstack([x_train, x_unl[picked]]).tocsr()
        y = np.concatenate([y_train, (p_unl[picked] > 0.5).astype(y_train.dtype)])
        valid_acc, test_acc, c, p_unl = fit(x, y)
        print(f"+ {fraction:.0%} self-labelled: C={c:g}  valid {valid_acc:.3f}  test {test_acc:.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
