"""Layer normalisation of one row inside the numba-compiled loops (Ba et al. 2016, "Layer
Normalization", eq. 4; x̂ = (x - μ) / σ over the row, σ² biased, as torch's), forward and the
input gradient of backward:

    dx = (1/σ) (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂))

with dx̂ the gradient w.r.t. x̂. The loops keep x̂ (not x) for backward, so backward needs only
1/σ per row. The row sums are compiled with reassociation allowed: a sum loop stays scalar
otherwise (IEEE addition is not associative), three times slower here.
"""

from __future__ import annotations

import numpy as np

from ._native_common import jit

try:
    import numba
except ImportError:                                   # pragma: no cover - exercised where numba is absent
    numba = None


def moments(x, eps):  # pragma: no cover - compiled
    """(μ, 1/σ) of the row x, two passes (the row is in L1), 1/σ = 1 / sqrt(var + eps)."""
    n, one, zero = x.dtype.type(x.shape[0]), x.dtype.type(1), x.dtype.type(0)
    total = zero
    for j in range(x.shape[0]):
        total += x[j]
    mean = total / n
    var = zero
    for j in range(x.shape[0]):
        d = x[j] - mean
        var += d * d
    return mean, one / np.sqrt(var / n + eps)


def grad_means(dx, x):  # pragma: no cover - compiled
    """mean(dx̂) and mean(dx̂ x̂) of LN's input gradient."""
    n, zero = dx.dtype.type(dx.shape[0]), dx.dtype.type(0)
    s1, s2 = zero, zero
    for j in range(dx.shape[0]):
        s1 += dx[j]
        s2 += dx[j] * x[j]
    return s1 / n, s2 / n


def _scale_back(dx, x, rstd, m1, m2):  # pragma: no cover - compiled
    for j in range(dx.shape[0]):
        dx[j] = rstd * (dx[j] - m1 - x[j] * m2)


def normalise(x, out, eps):  # pragma: no cover - compiled
    """out <- x̂ of the row x (out may be x); returns (μ, 1/σ)."""
    mean, rstd = moments(x, eps)
    for j in range(x.shape[0]):
        out[j] = (x[j] - mean) * rstd
    return mean, rstd


def input_grad(dx, x, rstd):  # pragma: no cover - compiled
    """dx, the gradient w.r.t. x̂ on entry, becomes the gradient w.r.t. LN's input, in place;
    x is the row's x̂ and rstd its 1/σ."""
    m1, m2 = grad_means(dx, x)
    _scale_back(dx, x, rstd, m1, m2)


if numba is not None:
    _sum = numba.njit(cache=True, error_model="numpy", fastmath={"reassoc"})   # reductions may reorder
    moments, grad_means = _sum(moments), _sum(grad_means)
_scale_back, normalise, input_grad = jit(_scale_back), jit(normalise), jit(input_grad)
