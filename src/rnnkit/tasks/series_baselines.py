"""The baselines of an echo state network on one series, scored like `ChaoticSeries.evaluate`: the
same steps (after each split's washout), the same NRMSE, and for a one-step-ahead series the
same closed-loop runs (`nrmse_<horizon>`, from every 200th step, `horizon` steps ahead).

- `persistence`: y_hat_t = y_{t-1}, the last value seen (for a one-step-ahead series, the input).
  Closed loop it holds that value for the whole horizon.
- `ridge_ar_<k>`: y_hat_t = w . (u_t, u_{t-1}, ..., u_{t-k+1}) + b, a ridge regression on the last
  k inputs (an AR(k) model of a one-step-ahead series, a linear FIR filter of a driven one),
  fitted on the training steps the readout is fitted on; k and the penalty are chosen on the
  validation split. Closed loop it feeds its predictions back as inputs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..data.batch import Batch, Splits
from ..models.ridge import Ridge
from .base import Metrics

LAGS = (1, 2, 3, 5, 10, 20, 50)
ALPHAS = (1e-8, 1e-4, 1e-1, 10.0)


def series_baselines(task: Any, data: Splits, split: Batch) -> dict[str, Metrics]:
    """{"persistence": metrics, "ridge_ar_<k>": metrics} on `split` (a ChaoticSeries' batch)."""
    train = data.train
    k, alpha = min(((k, a) for k in LAGS if k <= train.inputs.size(1) - task.washout for a in ALPHAS),
                   key=lambda ka: _one_step_error(task, data.valid, _fit(task, train, *ka)))
    weights = _fit(task, train, k, alpha)
    rows = {"persistence": _metrics(task, split, _previous(task, split, train), lambda b, s: b.targets[0, s, 0]),
            f"ridge_ar_{k}": _metrics(task, split, _lags(split.inputs, k) @ weights,
                                      lambda b, s: _free_run(b, s, weights, k, task.horizon))}
    return rows


def _previous(task: Any, batch: Batch, train: Batch) -> Tensor:
    """y_{t-1} for every step t (T,): the input itself where the series predicts itself; for a
    driven series, before step 0 (scored only with washout 0), the training targets' mean."""
    if task.one_step_ahead:
        return batch.inputs[0, :, 0]                                                  # u_t = y_{t-1}
    return torch.cat([train.targets[0, :, 0].mean().reshape(1), batch.targets[0, :-1, 0]])


def _lags(inputs: Tensor, k: int) -> Tensor:
    """(T, k + 1): u_t, u_{t-1}, ..., u_{t-k+1} (zeros before the start, as the reservoir's state) and 1."""
    u = inputs[0, :, 0]
    padded = torch.cat([u.new_zeros(k - 1), u])
    columns = [padded[k - 1 - j:len(padded) - j] for j in range(k)]
    return torch.stack([*columns, torch.ones_like(u)], dim=1)


def _fit(task: Any, train: Batch, k: int, alpha: float) -> Tensor:
    """The (k + 1,) weights (bias last) fitted on the training steps after the washout."""
    ridge = Ridge(k, 1, alpha=alpha)
    x = _lags(train.inputs, k)[task.washout:]
    ridge.update(x[:, :k], train.targets[0, task.washout:])
    weight, bias = ridge.solve()
    return torch.cat([weight[0], bias])


def _one_step_error(task: Any, batch: Batch, weights: Tensor) -> float:
    k = len(weights) - 1
    error = (_lags(batch.inputs, k) @ weights - batch.targets[0, :, 0])[task.washout:]
    return float(error.pow(2).mean())


def _free_run(batch: Batch, starts: Tensor, weights: Tensor, k: int, horizon: int) -> Tensor:
    """The AR model run closed loop from each start s: it knows the series up to y_s = u_{s+1},
    and returns its predictions of y_{s+horizon} (R,)."""
    window = _lags(batch.inputs, k)[starts + 1, :k]                                  # (R, k) newest first
    for _ in range(horizon):
        prediction = window @ weights[:k] + weights[k]                               # (R,)
        window = torch.cat([prediction[:, None], window[:, :-1]], dim=1)
    return window[:, 0]


def _metrics(task: Any, batch: Batch, prediction: Tensor, closed: Any) -> Metrics:
    """The metrics of `ChaoticSeries.evaluate` for one-step predictions (T,), and `closed(batch,
    starts)`, the predictions of y_{s+horizon} from each closed-loop start s."""
    target = batch.targets[0, task.washout:, 0]
    metrics = {"nrmse": float((prediction[task.washout:] - target).pow(2).mean().sqrt() / target.std())}
    if task.one_step_ahead and task.horizon:
        starts = torch.arange(task.washout, batch.inputs.size(1) - task.horizon, 200)
        error = closed(batch, starts) - batch.targets[0, starts + task.horizon, 0]
        metrics[f"nrmse_{task.horizon}"] = float(error.pow(2).mean().sqrt() / target.std())
    return metrics
