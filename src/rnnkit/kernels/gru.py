"""Hand-written BPTT for the GRU in torch's form and the layer-normalised GRU, with padding,
recurrent dropout and zoneout (see `kernels.lstm` for the layout of the kernels).

    r, z = σ(x_rz + h_rz),  n = tanh(x_n + r ⊙ h_n),  h̃ = (1 - z) ⊙ n + z ⊙ h_{t-1}

with x = W_ih x_t + b_ih (or LN_ih(W_ih x_t)) for all T outside the `Function`, and
h_rzn = W_hh h_in + b_hh (or LN_hh(W_hh h_in)) per step. Backward folds every factor that does
not depend on the incoming gradient dh_t into two (B, T, ·) tensors up front, so a step costs one
multiply for all three recurrent gate gradients, one for dx_n, one for the carry and one GEMM.
On the CPU `_run` picks the compiled loops instead where `backend` says they run: `gru_native`
for the plain GRU, `gru_ln_native` for the layer-norm one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._common import (
    Carry,
    State,
    carry_grad,
    carry_weights,
    complement,
    layer_norm_input_grad,
    layer_norm_param_grads,
    per_step,
    previous,
    recurrent_grad,
    scaled,
    stacked_stats,
    time_major,
)
from .backend import native as use_native
from .gru_ln_native import NativeLayerNormGRULoop
from .gru_ln_native import smoke as ln_smoke
from .gru_native import NativeGRULoop, smoke


class GRULoop(torch.autograd.Function):
    """(xp, h0, W_hh, b_hh or LN_hh gain and shift) -> (y, h_T) for xp: (B, T, 3H) in order
    (r, z, n). With `ln` False, gain_hh is b_hh and bias_hh is None; with `ln` True they are
    LN_hh's gain and shift. keep_h is the carry (see `_common`), valid (B, T, 1) zeroes y on
    padding, h_mask (B, H) multiplies h where it enters W_hh (not the carry z ⊙ h)."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, w_hh: Tensor, gain_hh: Tensor | None,
                bias_hh: Tensor | None, h_mask: Tensor | None, keep_h: Carry,
                valid: Tensor | None, ln: bool, eps: float):
        B, T, G = xp.shape
        H = G // 3
        if T == 0:                                    # no steps: h_T is h_0 (as the native loop has it)
            ctx.save_for_backward(w_hh, gain_hh, bias_hh)
            ctx.empty = (B, G)
            return xp.new_empty(B, 0, H), h0.clone()
        ctx.empty = None
        acts = xp.new_empty(B, T, G)                  # r, z, n
        # h_rzn, the recurrent gate inputs, and W_hh h_in before LN_hh; what LN reads or
        # writes per step is stored time-major (contiguous steps)
        rec = time_major(xp, B, T, G) if ln else xp.new_empty(B, T, G)
        raw = time_major(xp, B, T, G) if ln else None
        hs = xp.new_empty(B, T, H)
        h_new = xp.new_empty(B, H) if keep_h is not None else None
        stats: list[Tensor] = []                                              # μ, 1/σ of LN_hh
        w_t = w_hh.t()
        recs, raws = rec.unbind(1), raw.unbind(1) if ln else None
        rz, n_ = acts[..., : 2 * H].unbind(1), acts[..., 2 * H:].unbind(1)
        r_, z_ = acts[..., :H].unbind(1), acts[..., H:2 * H].unbind(1)
        x_rz, x_n = xp[..., : 2 * H].unbind(1), xp[..., 2 * H:].unbind(1)
        rec_rz, rec_n = rec[..., : 2 * H].unbind(1), rec[..., 2 * H:].unbind(1)
        h_steps, kh = hs.unbind(1), per_step(keep_h, T)
        h = h0
        for t in range(T):
            h_in = h if h_mask is None else h * h_mask
            if ln:   # Ba et al. 2016: LN_hh's shift is the recurrent bias b_hn that r multiplies
                normed, mean, rstd = torch.native_layer_norm(torch.mm(h_in, w_t, out=raws[t]), (G,),
                                                             gain_hh, bias_hh, eps)
                recs[t].copy_(normed)
                stats += [mean, rstd]
            elif gain_hh is None:
                torch.mm(h_in, w_t, out=recs[t])
            else:
                torch.addmm(gain_hh, h_in, w_t, out=recs[t])
            torch.add(x_rz[t], rec_rz[t], out=rz[t]).sigmoid_()
            torch.addcmul(x_n[t], r_[t], rec_n[t], out=n_[t]).tanh_()
            if keep_h is None:
                torch.lerp(n_[t], h, z_[t], out=h_steps[t])                   # (1 - z) n + z h
            else:   # zoneout / padding: h_t = lerp(h̃_t, h_{t-1}, k)
                torch.lerp(torch.lerp(n_[t], h, z_[t], out=h_new), h, kh[t], out=h_steps[t])
            h = h_steps[t]
        y = hs if valid is None else hs * valid
        stat = stacked_stats(stats, 2) if ln else None                        # (2, T, B, 1)
        ctx.save_for_backward(h0, w_hh, gain_hh, bias_hh, h_mask, valid, acts, rec, raw, hs, stat)
        ctx.keep, ctx.ln = keep_h, ln
        return y, (hs[:, -1] if T else h0).clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, grad_h):
        if ctx.empty is not None:
            return (grad_h.new_zeros(ctx.empty[0], 0, ctx.empty[1]), grad_h,
                    *(None if p is None else torch.zeros_like(p) for p in ctx.saved_tensors)) + (None,) * 5
        h0, w_hh, gain_hh, bias_hh, h_mask, valid, acts, rec, raw, hs, stat = ctx.saved_tensors
        keep_h, ln = ctx.keep, ctx.ln
        B, T, G = acts.shape
        H = G // 3
        a_n, factors, carry = _pointwise_factors(acts, rec, previous(h0, hs), keep_h)
        grad_rec = time_major(acts, B, T, 3, H) if ln else acts.new_empty(B, T, 3, H)  # dL/d h_rzn
        grad_xn = time_major(acts, B, T, H) if ln else acts.new_empty(B, T, H)  # dL/d x_n
        grad_recs, grad_xns = grad_rec.unbind(1), grad_xn.unbind(1)
        fs, a_ns, carries = factors.unbind(1), a_n.unbind(1), per_step(carry, T)
        dys = [None] + list((grad_y if valid is None else grad_y * valid).unbind(1))   # dys[t + 1]
        if ln:
            (means, rstds), raws, grad_raw = (s.unbind(0) for s in stat), raw.unbind(1), []
        dh = grad_h + dys[T]
        for t in range(T - 1, -1, -1):
            torch.mul(dh[:, None], fs[t], out=grad_recs[t])                  # d h_r, d h_z, d h_n
            torch.mul(dh, a_ns[t], out=grad_xns[t])
            g = grad_recs[t].view(B, G)
            if ln:
                g = layer_norm_input_grad(g, raws[t], means[t], rstds[t], gain_hh)
                grad_raw.append(g)
            dh = recurrent_grad(carry_grad(dys[t], carries[t], dh), g, w_hh, h_mask)
        grad_rec = grad_rec.view(B, T, G)
        # x_rz and h_rz share their gradient; keep the layout of xp (time-major under LN)
        dim = 1 if ln else 0
        grad_xp = torch.cat([grad_rec[..., : 2 * H].transpose(0, dim), grad_xn.transpose(0, dim)],
                            dim=2).transpose(0, dim)
        grad_w = grad_g = grad_b = None
        if ctx.needs_input_grad[2]:
            rdrop = None if h_mask is None else h_mask if ln else h_mask[:, None]
            h_in = scaled(previous(h0, hs, time_major=ln), rdrop)           # (T, B, H) or (B, T, H)
            grad_r = torch.stack(grad_raw[::-1]) if ln else grad_rec          # the same layout
            grad_w = grad_r.reshape(-1, G).t().mm(h_in.reshape(-1, H))        # one GEMM over all T
        if ln:
            grad_g, grad_b = layer_norm_param_grads(grad_rec, raw, stat[0], stat[1], gain_hh, bias_hh)
        elif gain_hh is not None:
            grad_g = grad_rec.reshape(-1, G).sum(0)                           # d b_hh
        return (grad_xp, dh, grad_w, grad_g, grad_b) + (None,) * 5


def _pointwise_factors(acts: Tensor, rec: Tensor, h_prev: Tensor,
                       keep: Carry) -> tuple[Tensor, Tensor, Tensor | float]:
    """For all steps at once, with k the carry and k' = 1 - k:

        dx_n = dh ⊙ a_n,          a_n = k' (1 - z) tanh'(n)
        d h_{r,z,n} = dh ⊙ F,     F = [a_n h_n σ'(r),  k' (h_{t-1} - n) σ'(z),  a_n r]
        dh_{t-1} = dh ⊙ C + ...,  C = k + k' z
    """
    B, T, G = acts.shape
    H = G // 3
    r, z, n = acts.split(H, dim=-1)
    new = complement(keep)
    a_n = torch.mul(n, n).neg_().add_(1)
    a_n = torch.addcmul(a_n, a_n, z, value=-1)                                # (1 - z) tanh'(n)
    if new is not None:
        a_n.mul_(new)
    factors = acts.new_empty(B, T, 3, H)
    torch.addcmul(r, r, r, value=-1, out=factors[:, :, 0]).mul_(rec[..., 2 * H:]).mul_(a_n)
    f_z = torch.addcmul(z, z, z, value=-1, out=factors[:, :, 1]).mul_(h_prev.sub_(n))
    if new is not None:
        f_z.mul_(new)
    torch.mul(a_n, r, out=factors[:, :, 2])
    carry = z if keep is None else z * new + keep
    return a_n, factors, carry


def gru_loop(cell, x: Tensor, state: State, mask: Tensor | None, h_mask: Tensor | None,
             zoneout: tuple | None) -> tuple[Tensor, State]:
    """GRUCell over x: (B, T, I) through `GRULoop`."""
    xp = F.linear(x, cell.weight_ih, cell.bias_ih)                           # (B, T, 3H), one GEMM
    return _run(xp, state, cell.weight_hh, (cell.bias_hh, None), False, mask, h_mask, zoneout, 0.0)


def layernorm_gru_loop(cell, x: Tensor, state: State, mask: Tensor | None, h_mask: Tensor | None,
                       zoneout: tuple | None) -> tuple[Tensor, State]:
    """LayerNormGRUCell over x through `GRULoop` (`NativeLayerNormGRULoop` where the native loops
    run); LN_ih runs for all T at once."""
    ln_ih, ln_hh = cell.ln_ih, cell.ln_hh
    # time-major, like the kernel's layer-norm gradients (see `kernels.lstm`)
    xp = F.layer_norm(F.linear(x.transpose(0, 1), cell.weight_ih), (3 * cell.hidden_size,),
                      ln_ih.weight, ln_ih.bias, ln_ih.eps).transpose(0, 1)   # (B, T, 3H)
    ln = (ln_hh.weight, ln_hh.bias)
    return _run(xp, state, cell.weight_hh, ln, True, mask, h_mask, zoneout, ln_hh.eps)


def _run(xp: Tensor, state: State, w_hh: Tensor, rec: tuple, ln: bool, mask: Tensor | None,
         h_mask: Tensor | None, zoneout: tuple | None, eps: float) -> tuple[Tensor, State]:
    if ln:
        loop = NativeLayerNormGRULoop if use_native("gru_ln", xp, ln_smoke) else GRULoop
    else:
        loop = NativeGRULoop if native_gru(xp) else GRULoop
    (keep_h,) = carry_weights(zoneout, mask, xp, 1, bits=loop is not GRULoop)
    valid = None if mask is None else mask[:, :, None].to(xp.dtype)          # (B, T, 1)
    y, h = loop.apply(xp, state[0], w_hh, *rec, h_mask, keep_h, valid, ln, eps)
    return y, (h,)


def native_gru(like: Tensor) -> bool:
    """Whether the plain GRU runs natively on tensors like `like` (see `backend`)."""
    return use_native("gru", like, smoke)
