"""The two bags of n-grams of text classification on the default's own splits (issue #18): TF-IDF
1-2-grams + logistic regression (the first baseline) and naive Bayes-weighted 1-2-gram indicators
+ logistic regression (NBSVM's features, the model the validated selection pools with the network),
each with its C chosen on validation; valid and test accuracy.

    python benchmarks/text_ngrams.py                        # UCI sentences, IMDB with 1,000 labels, full IMDB
    python benchmarks/text_ngrams.py --sets uci             # one of uci, imdb1k, imdb

The splits are TextClassification's with `task.seed = 0` (the table "Defaults vs the first
baseline" in docs/results.md); IMDB is fetched through the pinned fetch layer. Full IMDB takes a
few minutes on one core.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from rnnkit.tasks.classification import TextClassification
from rnnkit.tasks.classification.baselines import fit_tfidf_logreg
from rnnkit.tasks.classification.nb_logreg import fit_nb_logreg

SETS = {"uci": ("tests/data/uci_sentences.csv", 0), "imdb1k": ("imdb", 1000), "imdb": ("imdb", 0)}


def accuracies(path: str, train_size: int) -> dict[str, tuple[float, float]]:
    """{model: (valid accuracy, test accuracy)} on the split of `path`."""
    texts = TextClassification(path=path, train_size=train_size, pretrained="").load().texts
    assert texts is not None
    classes = int(texts["train"][1].max()) + 1
    tfidf, regression = fit_tfidf_logreg(texts)
    nb = fit_nb_logreg(texts, classes)

    def score(predict, split: str) -> float:
        scored, y = texts[split]
        return float((predict(scored) == y.numpy()).mean())

    splits = ("valid", "test")
    return {"tfidf_logreg": tuple(score(lambda t: regression.predict(tfidf.transform(t)), s) for s in splits),
            "nb_logreg": tuple(score(lambda t: nb.probabilities(t).argmax(1), s) for s in splits)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {list(SETS)}")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print("| set | TF-IDF + LR: valid / test | NB-LR: valid / test |")
    print("|---|---|---|")
    for name in args.sets.split(","):
        rows = accuracies(*SETS[name])
        print(f"| {name} | " + " | ".join(f"{np.round(v, 4)} / {np.round(t, 4)}" for v, t in rows.values()) + " |",
              flush=True)


if __name__ == "__main__":
    main()
