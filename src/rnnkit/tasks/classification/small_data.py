"""The small-data protocol of sequence classification: which protocol a run uses, and its splits.

On a few dozen or hundred training sequences one held-out validation split is both a waste (a
tenth of scarce data never trained on) and a noisy judge (early stopping on 4 sequences picks an
epoch by chance, so seeds disagree by 10-15 points). Under `task.protocol = "cv"` the run instead
(1) chooses the number of epochs by stratified k-fold cross-validation on all its training
sequences, early stopping inside each fold (the classic protocol for model selection on small sets:
Kohavi 1995; Varma & Simon 2006 on its bias), and (2) trains a seed ensemble of final models on all
the training sequences for that many epochs, which predicts with the mean of their class
probabilities (models/ensemble.py). runs/crossval.py trains them; this module only decides.

    auto     cross-validation below task.small_data training sequences, else holdout
    holdout  train on train, stop early on the valid split (valid_fraction of train where the data has none)
    cv       the protocol above; the data's own valid split, if it has one, is scored but never trained on
"""

from __future__ import annotations

import sys
from typing import Any

from ...data.labelled import split_fractions
from ._common import Part

PROTOCOLS = ("auto", "holdout", "cv")


def check_protocol(protocol: str, *, small_data: int, folds: int, ensemble: int, encoder: str,
                   bucket_size: int) -> None:
    """A one-line ValueError for settings the protocol cannot run with."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"task.protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    if small_data < 0 or folds < 2 or ensemble < 1:
        raise ValueError(f"task.small_data must be >= 0, task.folds >= 2 and task.ensemble >= 1; got {small_data}, "
                         f"{folds} and {ensemble}")
    if protocol == "cv" and (encoder != "rnn" or bucket_size):
        raise ValueError("task.protocol = 'cv' trains rnn encoders on unbucketed data: set task.encoder = 'rnn' and "
                         "task.bucket_size = 0, or task.protocol = 'holdout'")


def chosen(protocol: str, n_train: int, *, small_data: int, encoder: str, bucket_size: int) -> str:
    """'cv' or 'holdout' for a source with `n_train` training sequences. Under "auto" only a
    gradient-trained, unbucketed rnn encoder is cross-validated (a reservoir's ridge readout has no
    epochs to choose)."""
    if protocol != "auto":
        return protocol
    return "cv" if n_train < small_data and encoder == "rnn" and not bucket_size else "holdout"


def carve_for_cv(raw: dict[str, Part], *, valid_fraction: float, test_fraction: float,
                 seed: int) -> dict[str, Part]:
    """The parts under cross-validation: no valid split is carved from train (a source's own valid
    part stays, to be scored). A test part is split off where the source has none, the same one
    the holdout protocol would split off with this seed, so both protocols score the same test."""
    if "test" in raw or not test_fraction:
        return raw
    train = raw.pop("train")
    keep, valid, test = split_fractions(len(train.inputs), valid_fraction, test_fraction, seed)
    return {**raw, "train": train.pick(keep + valid), "test": train.pick(test)}


def protocol_meta(protocol: str, ensemble: int, n_train: int) -> dict[str, Any]:
    """What meta.json keeps of the protocol: `ensemble` is how many models the saved one holds
    (0: a single model), so `rnnkit.load` rebuilds it without the data."""
    print(f"task.protocol: {protocol} ({n_train} training sequences)"
          + (f"; {ensemble} final models predict together" if protocol == "cv" else ""), file=sys.stderr, flush=True)
    return {"protocol": protocol, "ensemble": ensemble if protocol == "cv" else 0}
