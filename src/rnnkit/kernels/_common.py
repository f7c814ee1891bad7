"""Pieces shared by the hand-written BPTT kernels: carry weights, per-step views, bulk layer norm.

Every kernel writes one step of a state s as

    s_t = lerp(s̃_t, s_{t-1}, k_t) = (1 - k_t) s̃_t + k_t s_{t-1}

where s̃_t is the cell's new value and k_t the "carry" weight: zoneout's keep draws d_t or their
expectation p (Krueger et al. 2016), and 1 on padded steps, where the state must not move. With
neither, k is None and the kernel skips the lerp. Padding and zoneout therefore share one code
path, and the backward of the lerp is two multiplies: ds̃ = (1 - k) ds, ds_{t-1} += k ds.
Zoneout's draws arrive as bool masks on the CPU (`draws.bernoulli(bits=True)`): the native loops
keep them as bytes, the torch loops take them as floats.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

_layer_norm_backward = torch.ops.aten.native_layer_norm_backward.default   # no torch.* binding

State = tuple[Tensor, ...]      # a cell's state, (h,) or (h, c); the same alias as `cells.State`,
                                # defined here so that the kernels need nothing from the cells
Carry = Tensor | float | None   # (B, T, n) or (B, T, 1) tensor, a scalar for every step, or no carry


def carry_weights(zoneout: Sequence[Tensor | float] | None, mask: Tensor | None,
                  like: Tensor, count: int, *, bits: bool = False) -> tuple[Carry, ...]:
    """Per state component, the weight k of the previous state (see the module docstring).

    zoneout: per component a (B, T, n) draw of d (bool or float) or the float p; mask: (B, T)
    bool valid steps. like: a tensor of the compute dtype. bits: bool draws stay bool (a
    carry of 1 on padding is True), for the native loops, which keep them as bytes; otherwise
    every carry tensor is in like's dtype. Returns `count` carries."""
    keeps: list[Carry] = [None] * count if zoneout is None else list(zoneout)
    keeps = [None if isinstance(k, (int, float)) and k == 0.0 else k for k in keeps]
    as_is = lambda k: bits and k.dtype == torch.bool                          # noqa: E731
    if mask is None:
        return tuple(k if k is None or isinstance(k, (int, float)) or as_is(k) else k.to(like.dtype)
                     for k in keeps)
    valid = mask[:, :, None]                                                  # (B, T, 1)
    ones = like.new_ones(())
    out = []
    for k in keeps:
        if k is None:
            out.append((~valid).to(like.dtype))                               # (B, T, 1): 1 on padding
        elif isinstance(k, Tensor) and as_is(k):
            out.append(torch.where(valid, k, True))
        else:
            k = k if isinstance(k, Tensor) else like.new_tensor(float(k))
            out.append(torch.where(valid, k.to(like.dtype), ones))
    return tuple(out)


def per_step(k: Carry, steps: int) -> list:
    """The carry of each step: views (B, n) of a tensor, or the same scalar / None T times."""
    return k.unbind(1) if isinstance(k, Tensor) else [k] * steps


def complement(k: Carry) -> Carry:
    """1 - k, the weight of the new value (None when there is no carry)."""
    return None if k is None else 1.0 - k


def add_scaled(acc: Tensor, k: Tensor | float, x: Tensor) -> Tensor:
    """acc += k ⊙ x in place, for a tensor or scalar k."""
    return acc.add_(x, alpha=k) if isinstance(k, float) else acc.addcmul_(k, x)


def scaled(x: Tensor, k: Tensor | float | None) -> Tensor:
    """k ⊙ x, or x itself when k is None."""
    return x if k is None else x * k


def carry_grad(dy: Tensor | None, k: Tensor | float | None, ds: Tensor) -> Tensor | None:
    """dy_{t-1} + k_t ⊙ ds_t: what reaches s_{t-1} from the output and the carry, in one op.
    Never writes into dy (a view of the caller's gradient)."""
    if k is None:
        return dy
    if dy is None:
        return ds * k
    return torch.add(dy, ds, alpha=k) if isinstance(k, float) else torch.addcmul(dy, k, ds)


def recurrent_grad(base: Tensor | None, grad_rec: Tensor, w_hh: Tensor, h_mask: Tensor | None) -> Tensor:
    """base + (grad_rec W_hh) ⊙ h_mask: dL/dh_{t-1}, with the one per-step GEMM of backward
    (an addmm when there is no recurrent dropout mask to apply between)."""
    if h_mask is None:
        return torch.mm(grad_rec, w_hh) if base is None else torch.addmm(base, grad_rec, w_hh)
    dh_in = torch.mm(grad_rec, w_hh)
    return dh_in.mul_(h_mask) if base is None else torch.addcmul(base, dh_in, h_mask)


def previous(first: Tensor, seq: Tensor, *, time_major: bool = False) -> Tensor:
    """(B, n) and (B, T, n) -> the value before each step, s_{t-1}: (B, T, n), or (T, B, n)
    contiguous for GEMMs against time-major gradients."""
    if time_major:
        return torch.cat([first[None], seq.transpose(0, 1)[:-1]], dim=0)
    return torch.cat([first[:, None], seq[:, :-1]], dim=1)


def time_major(like: Tensor, batch: int, steps: int, *shape: int) -> Tensor:
    """An empty (B, T, ...) tensor stored time-major, so that each step's slice is contiguous:
    native_layer_norm and its backward copy non-contiguous inputs, once per step otherwise."""
    return like.new_empty(steps, batch, *shape).transpose(0, 1)


def stacked_stats(stats: list[Tensor], count: int) -> Tensor:
    """Per-step layer-norm statistics [μ_1, 1/σ_1, ..., μ_k, 1/σ_k] * T, each (B, 1) ->
    (2k, T, B, 1), so that each step's slot is contiguous for native_layer_norm_backward.
    (The out= form of native_layer_norm would save this stack but costs 10x a plain call.)"""
    steps = len(stats) // count
    return torch.stack(stats).view(steps, count, *stats[0].shape).transpose(0, 1).contiguous()


def layer_norm_input_grad(grad: Tensor, raw: Tensor, mean: Tensor, rstd: Tensor,
                          gain: Tensor | None) -> Tensor:
    """d raw of y = LN(raw) ⊙ gain (+ bias) for one step, from the saved statistics; the gain
    and shift gradients are summed over all steps afterwards (see `layer_norm_param_grads`)."""
    return _layer_norm_backward(grad, raw, [raw.size(-1)], mean, rstd, gain, None, [True, False, False])[0]


def layer_norm_param_grads(grad: Tensor, raw: Tensor, mean: Tensor, rstd: Tensor, gain: Tensor,
                           bias: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Gain and shift gradients Σ grad ⊙ x̂ and Σ grad over all steps, in one pass. grad and raw
    are time-major (see `time_major`), mean and rstd (T, B, 1)."""
    n = raw.size(-1)
    flat = lambda t: t.transpose(0, 1).reshape(-1, n)                          # (T B, n), a view
    _, gain_grad, bias_grad = _layer_norm_backward(
        flat(grad), flat(raw), [n], mean.reshape(-1, 1), rstd.reshape(-1, 1), gain, bias,
        [False, True, bias is not None])
    return gain_grad, bias_grad
