"""Hand-written BPTT for the LSTM and the layer-normalised LSTM, with padding, recurrent dropout
and zoneout (perf-notes, conclusion 4: autograd's per-step graph is what makes a loop slow).

The input projection W_ih x (and LN_ih, for the layer-norm cell) runs for all T as one GEMM
outside the `Function`, so autograd gives dW_ih, dx and the bias gradients as one GEMM or
reduction each over all steps. Inside, each step is one (B, H) x (H, 4H) GEMM and a few
pointwise ops, forward and backward; dW_hh is one GEMM over all steps at the end.

Inside the kernel the gates are in the order (o, i, f, g), so one sigmoid covers the three
sigmoid gates and the gradients of (i, f, g), which all scale dc, form one contiguous block.
The wrapper rotates torch's (i, f, g, o) rows into this order and autograd rotates them back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._common import (
    Carry,
    State,
    add_scaled,
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
from .lstm_ln_native import NativeLayerNormLSTMLoop
from .lstm_ln_native import smoke as ln_smoke
from .lstm_native import NativeLSTMLoop, smoke


class LSTMLoop(torch.autograd.Function):
    """(xp, h0, c0, W_hh, LN gains) -> (y, h_T, c_T) for xp: (B, T, 4H) gate inputs in order
    (o, i, f, g) with all biases (or LN_ih) applied. gain_hh is None for a plain LSTM; then
    gain_c and bias_c are None too. keep_h/keep_c are carries (see `_common`), valid (B, T, 1)
    zeroes y on padding, h_mask (B, H) multiplies h where it enters W_hh."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, gain_hh: Tensor | None,
                gain_c: Tensor | None, bias_c: Tensor | None, h_mask: Tensor | None,
                keep_h: Carry, keep_c: Carry, valid: Tensor | None, eps: float):
        B, T, G = xp.shape
        H = G // 4
        ln = gain_hh is not None
        acts = xp.new_empty(B, T, G)                  # σ(o, i, f), tanh(g)
        tanh_c = xp.new_empty(B, T, H)                # tanh(c̃_t) or tanh(LN_c(c̃_t))
        hs = xp.new_empty(B, T, H)                    # h_t
        # c̃_t, the cell's new c before the carry (c_t itself without one); backward needs it
        # only for LN_c's gradient. What LN reads or writes per step is stored time-major.
        raw = time_major(xp, B, T, G) if ln else None                         # W_hh h_in
        c_new = time_major(xp, B, T, H) if ln else xp.new_empty(B, T, H) if keep_c is None else None
        cs = c_new if keep_c is None else xp.new_empty(B, T, H)               # c_t
        c_news = c_new.unbind(1) if c_new is not None else [xp.new_empty(B, H)] * T
        h_new = xp.new_empty(B, H) if keep_h is not None else None
        stats: list[Tensor] = []                      # per step: μ, 1/σ of LN_hh, then of LN_c
        w_t = w_hh.t()
        gates, raws = acts.unbind(1), raw.unbind(1) if ln else None
        sig, g_ = acts[..., : 3 * H].unbind(1), acts[..., 3 * H:].unbind(1)
        o_, i_, f_ = (acts[..., k * H:(k + 1) * H].unbind(1) for k in range(3))
        tanh_cs, h_steps, c_steps = tanh_c.unbind(1), hs.unbind(1), cs.unbind(1)
        kh, kc = per_step(keep_h, T), per_step(keep_c, T)
        h, c = h0, c0
        for t, xp_t in enumerate(xp.unbind(1)):
            h_in = h if h_mask is None else h * h_mask
            if ln:   # Ba et al. 2016, eq. 20-22: LN_ih(W_ih x) + LN_hh(W_hh h)
                normed, mean, rstd = torch.native_layer_norm(torch.mm(h_in, w_t, out=raws[t]), (G,),
                                                             gain_hh, None, eps)
                torch.add(xp_t, normed, out=gates[t])
                stats += [mean, rstd]
            else:
                torch.addmm(xp_t, h_in, w_t, out=gates[t])
            sig[t].sigmoid_()
            g_[t].tanh_()
            torch.mul(f_[t], c, out=c_news[t]).addcmul_(i_[t], g_[t])      # c̃ = f c + i g
            if ln:
                c_hat, mean, rstd = torch.native_layer_norm(c_news[t], (H,), gain_c, bias_c, eps)
                torch.tanh(c_hat, out=tanh_cs[t])
                stats += [mean, rstd]
            else:
                torch.tanh(c_news[t], out=tanh_cs[t])
            if keep_h is None:
                torch.mul(o_[t], tanh_cs[t], out=h_steps[t])
            else:   # zoneout / padding: h_t = lerp(h̃_t, h_{t-1}, k)
                torch.lerp(torch.mul(o_[t], tanh_cs[t], out=h_new), h, kh[t], out=h_steps[t])
            if keep_c is not None:
                torch.lerp(c_news[t], c, kc[t], out=c_steps[t])
            h, c = h_steps[t], c_steps[t]
        y = hs if valid is None else hs * valid
        stat = stacked_stats(stats, 4) if ln and T else None                  # (4, T, B, 1)
        ctx.save_for_backward(h0, c0, w_hh, gain_hh, gain_c, bias_c, h_mask, valid, acts, raw,
                              c_new, tanh_c, hs, cs, stat)
        ctx.keeps = (keep_h, keep_c)
        if T == 0:
            return y, h0.clone(), c0.clone()
        return y, hs[:, -1].clone(), cs[:, -1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, grad_h, grad_c):
        (h0, c0, w_hh, gain_hh, gain_c, bias_c, h_mask, valid, acts, raw, c_new, tanh_c, hs, cs,
         stat) = ctx.saved_tensors
        keep_h, keep_c = ctx.keeps
        B, T, G = acts.shape
        if T == 0:                                    # no steps: h_T, c_T were h_0, c_0
            return (acts.new_zeros(B, 0, G), grad_h, grad_c, torch.zeros_like(w_hh),
                    *(None if g is None else torch.zeros_like(g) for g in (gain_hh, gain_c, bias_c))) + (None,) * 5
        H = G // 4
        ln = gain_hh is not None
        q, p, r = _pointwise_factors(acts, tanh_c, c0, cs, complement(keep_h))
        grad_a = time_major(acts, B, T, G) if ln else acts.new_empty(B, T, G)  # dL/d gate inputs
        da_o, da_ifg = grad_a[..., :H].unbind(1), grad_a[..., H:].view(B, T, 3, H).unbind(1)
        grad_as, fs = grad_a.unbind(1), acts[..., 2 * H:3 * H].unbind(1)
        qs, ps, rs = q.unbind(1), p.unbind(1), r.unbind(1)
        dys = [None] + list((grad_y if valid is None else grad_y * valid).unbind(1))   # dys[t + 1]
        kh, kc, nc = per_step(keep_h, T), per_step(keep_c, T), per_step(complement(keep_c), T)
        if ln:
            mean_hh, rstd_hh, mean_c, rstd_c = (s.unbind(0) for s in stat)   # (B, 1) per step
            raws, c_news = raw.unbind(1), c_new.unbind(1)
            grad_chat = time_major(acts, B, T, H)                             # dL/d LN_c(c̃)
            grad_chats = grad_chat.unbind(1)
            grad_raw: list[Tensor] = []                                       # dL/d W_hh h_in, T..1
        dh, dc = grad_h + dys[T], grad_c
        for t in range(T - 1, -1, -1):
            torch.mul(dh, qs[t], out=da_o[t])                                 # q, p carry 1 - k_h
            if ln:
                torch.mul(dh, ps[t], out=grad_chats[t])
                dc_new = layer_norm_input_grad(grad_chats[t], c_news[t], mean_c[t], rstd_c[t], gain_c)
                dc_new = dc_new.add_(dc) if keep_c is None else add_scaled(dc_new, nc[t], dc)
            else:
                dc_new = scaled(dc, nc[t]).addcmul(dh, ps[t])                 # dc̃_t
            torch.mul(dc_new[:, None], rs[t], out=da_ifg[t])
            grad_rec = grad_as[t]
            if ln:
                grad_rec = layer_norm_input_grad(grad_rec, raws[t], mean_hh[t], rstd_hh[t], gain_hh)
                grad_raw.append(grad_rec)
            dh = recurrent_grad(carry_grad(dys[t], kh[t], dh), grad_rec, w_hh, h_mask)
            dc_prev = dc_new * fs[t]
            dc = dc_prev if keep_c is None else add_scaled(dc_prev, kc[t], dc)
        grad_w = None
        if ctx.needs_input_grad[3]:
            rdrop = None if h_mask is None else h_mask if ln else h_mask[:, None]
            h_in = scaled(previous(h0, hs, time_major=ln), rdrop)           # (T, B, H) or (B, T, H)
            grad_r = torch.stack(grad_raw[::-1]) if ln else grad_a            # the same layout
            grad_w = grad_r.reshape(-1, G).t().mm(h_in.reshape(-1, H))        # one GEMM over all T
        grad_gh = grad_gc = grad_bc = None
        if ln:
            grad_gh, _ = layer_norm_param_grads(grad_a, raw, stat[0], stat[1], gain_hh, None)
            grad_gc, grad_bc = layer_norm_param_grads(grad_chat, c_new, stat[2], stat[3], gain_c, bias_c)
        return (grad_a, dh, dc, grad_w, grad_gh, grad_gc, grad_bc) + (None,) * 5


def _pointwise_factors(acts: Tensor, tanh_c: Tensor, c0: Tensor, cs: Tensor,
                       new_h: Carry) -> tuple[Tensor, Tensor, Tensor]:
    """For all steps at once, the factors of backward that do not depend on the incoming
    gradient: da_o = dh ⊙ q, dc̃ (or dĉ under LN_c) gets dh ⊙ p, da_{i,f,g} = dc̃ ⊙ r. q and p
    include the zoneout weight 1 - k of the new h. In place where possible: every extra
    (B, T, H) temporary is a memory pass (and page faults) per call."""
    B, T, G = acts.shape
    H = G // 4
    o, i, f, g = acts.split(H, dim=-1)                                        # (B, T, H) each
    q = torch.addcmul(o, o, o, value=-1).mul_(tanh_c)                         # σ'(o) tanh(c)
    p = torch.mul(tanh_c, tanh_c).neg_().add_(1).mul_(o)                      # o tanh'(c)
    if new_h is not None:
        q.mul_(new_h)
        p.mul_(new_h)
    r = acts.new_empty(B, T, 3, H)
    torch.addcmul(i, i, i, value=-1, out=r[:, :, 0]).mul_(g)                  # σ'(i) g
    r_f = torch.addcmul(f, f, f, value=-1, out=r[:, :, 1])                    # σ'(f) c_{t-1}
    if T:
        r_f[:, 0].mul_(c0)
        r_f[:, 1:].mul_(cs[:, :-1])
    torch.mul(g, g, out=r[:, :, 2]).neg_().add_(1).mul_(i)                    # i tanh'(g)
    return q, p, r


def _rotate(w: Tensor | None) -> Tensor | None:
    """torch's gate blocks (i, f, g, o) along dim 0 -> the kernel's (o, i, f, g)."""
    return None if w is None else torch.roll(w, w.size(0) // 4, dims=0)


def lstm_loop(cell, x: Tensor, state: State, mask: Tensor | None, h_mask: Tensor | None,
              zoneout: tuple | None) -> tuple[Tensor, State]:
    """LSTMCell over x: (B, T, I) through `LSTMLoop`."""
    bias = None if cell.bias_ih is None else _rotate(cell.bias_ih + cell.bias_hh)
    xp = F.linear(x, _rotate(cell.weight_ih), bias)                          # (B, T, 4H), one GEMM
    return _run(xp, state, _rotate(cell.weight_hh), (None, None, None), mask, h_mask, zoneout, 0.0)


def layernorm_lstm_loop(cell, x: Tensor, state: State, mask: Tensor | None, h_mask: Tensor | None,
                        zoneout: tuple | None) -> tuple[Tensor, State]:
    """LayerNormLSTMCell over x through the native loop (LN_ih inside it) or `LSTMLoop` (LN_ih for
    all T at once before it)."""
    ln_ih, ln_hh, ln_c = cell.ln_ih, cell.ln_hh, cell.ln_c
    if not (ln_ih.eps == ln_hh.eps == ln_c.eps):
        return None
    # Time-major, like the kernels' layer-norm gradients: LN_ih's backward (or F.linear's) then
    # reads them without a (T, B, 4H) copy, and only x (I wide, not 4H) is transposed.
    u = F.linear(x.transpose(0, 1), _rotate(cell.weight_ih))                  # (T, B, 4H)
    ln_in, ln = (_rotate(ln_ih.weight), _rotate(ln_ih.bias)), (_rotate(ln_hh.weight), ln_c.weight, ln_c.bias)
    if use_native("ln_lstm", u, ln_smoke) and None not in ln_in + ln:
        keep_h, keep_c = carry_weights(zoneout, mask, u, 2, bits=True)
        valid = None if mask is None else mask[:, :, None].to(u.dtype)       # (B, T, 1)
        y, h, c = NativeLayerNormLSTMLoop.apply(u.transpose(0, 1), *ln_in, *state, _rotate(cell.weight_hh), *ln,
                                                h_mask, keep_h, keep_c, valid, ln_c.eps)
        return y, (h, c)
    xp = F.layer_norm(u, (4 * cell.hidden_size,), *ln_in, ln_ih.eps).transpose(0, 1)  # (B, T, 4H)
    return _run(xp, state, _rotate(cell.weight_hh), ln, mask, h_mask, zoneout, ln_c.eps)


def _run(xp: Tensor, state: State, w_hh: Tensor, ln: tuple, mask: Tensor | None,
         h_mask: Tensor | None, zoneout: tuple | None, eps: float) -> tuple[Tensor, State]:
    native = ln[0] is None and use_native("lstm", xp, smoke)
    keep_h, keep_c = carry_weights(zoneout, mask, xp, 2, bits=native)
    valid = None if mask is None else mask[:, :, None].to(xp.dtype)          # (B, T, 1)
    loop = NativeLSTMLoop if native else LSTMLoop
    y, h, c = loop.apply(xp, *state, w_hh, *ln, h_mask, keep_h, keep_c, valid, eps)
    return y, (h, c)
