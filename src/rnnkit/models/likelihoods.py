"""Probabilistic forecast outputs: what a head's raw numbers mean, their loss, point and interval.

    raw = head(h).view(B, K, param_count("student_t"))      # (B, K, 3)
    params = to_params(raw, "student_t")                     # loc, scale > 0, df > 2
    loss = likelihood_loss(params, target, "student_t")      # mean negative log-likelihood
    lower, point, upper = interval(params, "student_t", level=0.8)

gaussian: N(mean, scale²). student_t: Student's t with location, scale and learned degrees of
freedom ν per step (heavy tails for outliers; Alexandrov et al. 2020, GluonTS's StudentTOutput),
ν = 2 + softplus(·) so the variance stays finite. quantile: one value per quantile, sorted so they
never cross, scored by the pinball loss (Koenker & Bassett 1978; MQ-RNN, Wen et al. 2017).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

OUTPUTS = ("gaussian", "student_t", "quantile")
MIN_SCALE, MIN_DF = 1e-4, 2.0


def param_count(output: str, quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)) -> int:
    if output not in OUTPUTS:
        raise ValueError(f"output = {output!r} is not known; choose one of {list(OUTPUTS)}")
    return {"gaussian": 2, "student_t": 3}.get(output, len(quantiles))


def to_params(raw: Tensor, output: str) -> Tensor:
    """Raw head outputs (..., P) -> parameters (..., P): scale (and ν) made positive, quantiles sorted."""
    if output == "quantile":
        return raw.sort(dim=-1).values
    parts = [raw[..., 0], F.softplus(raw[..., 1]) + MIN_SCALE]
    if output == "student_t":
        parts.append(F.softplus(raw[..., 2]) + MIN_DF)
    return torch.stack(parts, dim=-1)


def point(params: Tensor, output: str) -> Tensor:
    """The point forecast (...,): the location (mean and median), or the middle quantile."""
    return params[..., params.size(-1) // 2] if output == "quantile" else params[..., 0]


def _mean(values: Tensor, weight: Tensor | None) -> Tensor:
    """The mean of (B, ...) values, or their mean with each row i weighted by weight[i] (B,)."""
    if weight is None:
        return values.mean()
    rows = values.reshape(values.size(0), -1).mean(dim=1)                           # (B,)
    return (rows * weight).sum() / weight.sum()


def gaussian_nll(params: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean negative log-likelihood of target (B, K) under N(mean, scale²), constants dropped."""
    mean, scale = params[..., 0], params[..., 1]
    return _mean(torch.log(scale) + 0.5 * ((target - mean) / scale) ** 2, weight)


def student_t_nll(params: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean negative log-likelihood of target (B, K) under Student's t(ν, loc, scale):
    -log p = log σ + ½ log(νπ) + lnΓ(ν/2) - lnΓ((ν+1)/2) + (ν+1)/2 · log(1 + z²/ν), z = (y - loc)/σ."""
    loc, scale, df = params[..., 0], params[..., 1], params[..., 2]
    z = (target - loc) / scale
    nll = (torch.log(scale) + 0.5 * torch.log(df * math.pi) + torch.lgamma(df / 2) - torch.lgamma((df + 1) / 2)
           + (df + 1) / 2 * torch.log1p(z ** 2 / df))
    return _mean(nll, weight)


def pinball(params: Tensor, target: Tensor, quantiles: tuple[float, ...], weight: Tensor | None = None) -> Tensor:
    """Mean quantile (pinball) loss of (B, K, Q) predictions for target (B, K)."""
    q = params.new_tensor(quantiles)                                                # (Q,)
    error = target[..., None] - params
    return _mean(torch.maximum(q * error, (q - 1) * error), weight)


def likelihood_loss(params: Tensor, target: Tensor, output: str, quantiles: tuple[float, ...] = (),
                    weight: Tensor | None = None) -> Tensor:
    """The output's mean loss; with `weight` (B,), each example's mean loss weighted by it."""
    if output == "gaussian":
        return gaussian_nll(params, target, weight)
    if output == "student_t":
        return student_t_nll(params, target, weight)
    return pinball(params, target, quantiles, weight)


def interval(params: Tensor, output: str, level: float) -> tuple[Tensor, Tensor, Tensor]:
    """(lower, point, upper) of the central `level` interval, each (...,). For quantile outputs the
    parameters must be the ((1 - level)/2, 0.5, (1 + level)/2) quantiles."""
    if output == "quantile":
        return params[..., 0], params[..., 1], params[..., 2]
    loc, scale = params[..., 0], params[..., 1]
    if output == "gaussian":
        z: Tensor | float = float(torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor((1 + level) / 2)))
    else:
        from scipy.stats import t as student_t  # torch's StudentT has no icdf

        df = params[..., 2].detach().double().cpu().numpy()
        z = torch.as_tensor(student_t.ppf((1 + level) / 2, df), dtype=params.dtype, device=params.device)
    return loc - z * scale, loc, loc + z * scale
