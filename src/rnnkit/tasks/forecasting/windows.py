"""The window forecasters' data (task.forecaster direct, seq2seq, autoregressive): fixed windows of
`input_size` points in (the value, calendar features and covariates) and `horizon` points out.

Values are scaled per series with the statistics of its points before the cut (`scaled`), or each
window by its inputs' mean |value| (scale = "window"); covariates are standardised the same way
(`features`). Known-future features (calendar and task.future_covariates) come first, so the model
reads the first `known_size` of them over the horizon too (`Batch.future`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ...data.batch import Batch
from ...data.series import Panel, Scaler, SeriesError, calendar, windows


def splits(task: Any, panel: Panel) -> tuple[Batch, Batch, Batch | None, list[int]]:
    """Training windows that end before each series' cut (its last holdout * horizon points), one
    validation and one test window per series after it; and the cuts. With holdout = 0 training uses
    every point and the validation window is each series' last, seen in training (final models)."""
    L, H = task.input_size, task.horizon
    cuts = [len(v) - task.holdout * H for v in panel.values]
    values = scaled(panel.values, cuts, task.scale)
    feats, known = features(task, panel, cuts), known_size(task, panel)
    # windows of L + H points: inputs, then the horizon's targets and known-future features
    whole, _, owner = windows(values, L + H, 0, cuts, features=feats, stride=task.stride)
    x, y, future = whole[:, :L], whole[:, L:, 0], whole[:, L:, 1:1 + known]
    idle = [panel.ids[i] for i in sorted(set(range(len(panel))) - set(owner.tolist()))]
    if idle:
        warnings.warn(f"{len(idle)} series are too short for a training window (input_size + horizon = "
                      f"{L + H} points before the held-out part) and are only forecast: {idle[:5]}", stacklevel=3)
    x, y = window_scaled(task, x, y)
    valid = [c if task.holdout else c - H for c in cuts]
    test = held_out(task, values, feats, [c + H for c in cuts], known) if task.holdout == 2 else None
    return batch(x, y, future), held_out(task, values, feats, valid, known), test, cuts


def features(task: Any, panel: Panel, ends: Sequence[int] | None = None) -> list[np.ndarray]:
    """Per series (T, F): calendar features and known-future covariates (the first `known_size`
    columns), then past-only covariates; covariates standardised with the statistics of the points
    before ends[i] (default: all)."""
    future = [panel.covariate_names.index(n) for n in panel.encoded(task.future_covariates)]
    order = future + [c for c in range(len(panel.covariate_names)) if c not in future]
    out = []
    for i, (times, cov) in enumerate(zip(panel.times, panel.covariates)):
        cal = calendar(times, panel.freq) if task.calendar else np.zeros((len(times), 0))
        cov = cov[:, order]
        seen = cov[:len(cov) if ends is None else ends[i]]
        std = seen.std(0) if len(seen) else np.ones(cov.shape[1])
        cov = (cov - (seen.mean(0) if len(seen) else 0.0)) / np.where(std > 0, std, 1.0)
        out.append(np.concatenate([cal, cov], axis=1))
    return out


def known_size(task: Any, panel: Panel) -> int:
    """How many leading feature columns are known over the horizon (calendar + future covariates)."""
    cal = calendar(panel.times[0][:1], panel.freq).shape[1] if task.calendar else 0
    return cal + len(panel.encoded(task.future_covariates))


def held_out(task: Any, values: Sequence[np.ndarray], feats: Sequence[np.ndarray], origins: Sequence[int],
             known: int) -> Batch:
    """One window per series whose target starts at its origin."""
    x, future = inputs(task, values, feats, origins, known)
    y = np.stack([v[o:o + task.horizon] for v, o in zip(values, origins)])
    return batch(*window_scaled(task, x, y), future)


def inputs(task: Any, values: Sequence[np.ndarray], feats: Sequence[np.ndarray], origins: Sequence[int],
           known: int) -> tuple[np.ndarray, np.ndarray]:
    """Per series the input window (S, L, 1 + F) before its origin and the known-future features
    (S, K, known) of the horizon after it; no value at or after the origin is read."""
    L, H = task.input_size, task.horizon
    x = np.stack([np.concatenate([v[o - L:o, None], f[o - L:o]], axis=1) for v, f, o in zip(values, feats, origins)])
    return x, np.stack([f[o:o + H, :known] for f, o in zip(feats, origins)])


def window_scale(task: Any, x: np.ndarray) -> np.ndarray:
    """(N,) divisors of each window (N, L, I): its inputs' mean |value| for scale = "window", else 1."""
    if task.scale != "window":
        return np.ones(len(x))
    level = np.abs(x[..., 0]).mean(axis=1)
    return np.where(level > 0, level, 1.0)


def window_scaled(task: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = window_scale(task, x)
    x = x.copy()
    x[..., 0] /= s[:, None]
    return x, y / s[:, None]


def scaler(values: Sequence[np.ndarray], cuts: Sequence[int], kind: str) -> Scaler:
    """Each series' scaling, fitted on its points before its cut (scale "window": none here)."""
    return Scaler.fit([v[:c] for v, c in zip(values, cuts)], "none" if kind == "window" else kind)


def scaled(values: Sequence[np.ndarray], cuts: Sequence[int], kind: str) -> list[np.ndarray]:
    return scaler(values, cuts, kind).transform(values)


def batch(x: np.ndarray, y: np.ndarray, future: np.ndarray) -> Batch:
    if not np.isfinite(x).all() or not np.isfinite(y).all() or not np.isfinite(future).all():
        raise SeriesError("a window holds non-finite values after scaling")
    as32 = lambda a: torch.tensor(a, dtype=torch.float32)
    return Batch(as32(x), as32(y), future=as32(future) if future.shape[-1] else None)
