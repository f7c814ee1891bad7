"""The one-standard-error rule of model selection (Breiman et al. 1984, "Classification and
Regression Trees", sec. 3.4.3; Hastie, Tibshirani & Friedman 2009, "The Elements of Statistical
Learning", sec. 7.10): among the candidates whose validation loss is within one standard error of
the best one's, keep the preferred one (the simplest), not the single winner. A validation score
from few examples is noisy, and its winner is partly the winner by chance.

The losses are paired: each candidate is scored on the same items (series, held-out sequences), so
the standard error is that of the per-item differences from the best candidate, which is much
smaller than either candidate's own when they err on the same items. Forecasting's validated
selection (tasks/forecasting/select.py: per-series MASE, more members preferred) and the small-data
protocol of sequence classification (runs/crossval.py: out-of-fold errors, the variant with fewer
inputs preferred) both choose with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def standard_errors(losses: Mapping[str, np.ndarray]) -> dict[str, float]:
    """{candidate: standard error of its mean loss minus the best candidate's}, from the paired
    per-item differences, NaN items left out (0 for the best itself and for fewer than two paired
    items). `losses`: {candidate: (N,) per-item losses, lower is better}."""
    finite = {k: a for k, a in losses.items() if np.isfinite(a).any()}
    if not finite:
        return {}
    best = min(finite, key=lambda k: (float(np.nanmean(finite[k])), k))
    out = {}
    for name, a in finite.items():
        d = a - finite[best]
        d = d[np.isfinite(d)]
        out[name] = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else 0.0
    return out


def one_se(losses: Mapping[str, np.ndarray], prefer: Callable[[str], Any]) -> str | None:
    """The candidate the rule keeps: of those whose mean loss is within one standard error
    (`standard_errors`, bounds included) of the lowest, the one with the smallest `prefer(name)`, ties broken by the
    lower mean loss, then the name. None when no candidate has a finite loss."""
    losses = {k: a for k, a in losses.items() if np.isfinite(a).any()}
    if not losses:
        return None
    mean = {k: float(np.nanmean(a)) for k, a in losses.items()}
    best = min(mean, key=lambda k: (mean[k], k))
    se = standard_errors(losses)
    # "within" includes one standard error exactly, which is common, not a coincidence, with 0/1 losses:
    # a candidate wrong on one item more than the best (and no other difference) is 1/n behind with a
    # standard error of exactly 1/n; rounding must not decide that tie (hence the relative slack)
    near = [k for k in mean if mean[k] - mean[best] <= se[k] * (1 + 1e-9)]
    return min(near, key=lambda k: (prefer(k), mean[k], k))
