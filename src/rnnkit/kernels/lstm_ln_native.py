"""The layer-normalised LSTM's BPTT loop (`lstm.LSTMLoop` with gain_hh, gain_c, bias_c) compiled
with numba, in the manner of `lstm_native`.

Per step `LSTMLoop` runs the plain cell's ten torch ops plus two layer norms forward and their
two backward kernels, each a dispatch and a pass over memory. Here a step is one BLAS GEMM
against W_hh and one fused pass per sequence, the layer norms inside it (Ba et al. 2016, eq.
20-22; x̂ = (x - μ) / σ over the row, σ² biased, as torch's):

    forward:   r = h_in W_hhᵀ (GEMM);  x̂_r = LN(r), kept in r's place;  a = xp + γ_hh x̂_r
               o, i, f = σ(a_o, a_i, a_f); g = tanh(a_g); c̃ = f c + i g;  x̂_c = LN(c̃)
               h̃ = o tanh(γ_c x̂_c + β_c);  h_t, c_t = lerp(h̃, h_{t-1}, k_h), lerp(c̃, c_{t-1}, k_c)
    backward:  as `LSTMLoop.backward`, with LN's input gradient in the pass:
               dx = (1/σ) (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)),  dx̂ = γ dy,
               then dh_{t-1} += dr_t W_hh (GEMM)

Forward keeps the normalised x̂ rather than LN's input: backward then needs only 1/σ per row,
and the gain and shift gradients Σ dy x̂ and Σ dy are sums the backward pass adds up as it goes
(in float64, so that float32's are not worse than torch's pairwise sums), not another pass over
(B, T, 4H) memory afterwards. The row means are separate small functions compiled with
reassociation allowed: a sum loop stays scalar otherwise (IEEE addition is not associative),
three times slower here. Gates are in the kernel order (o, i, f, g), as `LSTMLoop`'s.

The arrays 4H wide (xp, the activations, x̂_r and their gradients) are time-major, (T, B, 4H):
layernorm_lstm_loop's LN_ih output is stored that way, so xp needs no copy and dxp goes back in
the layout LN_ih's backward reads (a 32 MB copy each way at T, B, H = 1000, 16, 128 otherwise),
and each step's GEMM writes one contiguous block. The H-wide state arrays are (B, T, H), as y is.
The carry rows, the two-sided lerp and the option arrays are `_native_common`'s. The first call
per dtype compiles (about 9 seconds on a 2-core machine); the machine code is cached.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._blas import gemm, scratch
from ._common import Carry, previous, scaled
from ._fastmath import sigmoid, tanh
from ._native_common import array, carry_row, check_dtype, gemm_function, jit, lerp, options
from ._native_common import available as available

try:
    import numba
except ImportError:                                   # pragma: no cover - exercised where numba is absent
    numba = None

__all__ = ["NativeLayerNormLSTMLoop", "available"]


def _moments(x, eps):  # pragma: no cover - compiled
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


def _grad_means(dx, x):  # pragma: no cover - compiled
    """mean(dx̂) and mean(dx̂ x̂) of LN's input gradient."""
    n, zero = dx.dtype.type(dx.shape[0]), dx.dtype.type(0)
    s1, s2 = zero, zero
    for j in range(dx.shape[0]):
        s1 += dx[j]
        s2 += dx[j] * x[j]
    return s1 / n, s2 / n


def _normalise(dx, x, rstd, m1, m2):  # pragma: no cover - compiled
    """dx (the gradient w.r.t. x̂) -> the gradient w.r.t. LN's input, in place."""
    for j in range(dx.shape[0]):
        dx[j] = rstd * (dx[j] - m1 - x[j] * m2)


def _forward_row(r, x, gh, gc, bc, eps, hp, cp, kh, kc, a, xc, tc, h, c):  # pragma: no cover - compiled
    """One sequence's step. r (4H,): W_hh h_in on entry, x̂_r on exit; x (4H,): xp; gh (4H,), gc,
    bc (H,): LN gains and shift; a (4H,) <- σ(o, i, f), tanh(g); xc <- x̂_c; tc <- tanh(LN_c(c̃));
    h, c <- the new state. Returns 1/σ of both rows."""
    H, one = h.shape[0], h.dtype.type(1)
    mean, rstd = _moments(r, eps)
    for j in range(3 * H):
        r[j] = (r[j] - mean) * rstd
        a[j] = sigmoid(x[j] + gh[j] * r[j])
    for j in range(H):              # offset indexing: numba's loop from a nonzero start stays scalar
        r[3 * H + j] = (r[3 * H + j] - mean) * rstd
        a[3 * H + j] = tanh(x[3 * H + j] + gh[3 * H + j] * r[3 * H + j])
    for j in range(H):
        xc[j] = a[2 * H + j] * cp[j] + a[H + j] * a[3 * H + j]               # c̃ = f c + i g
    mean_c, rstd_c = _moments(xc, eps)
    for j in range(H):
        c_new = xc[j]
        xc[j] = (c_new - mean_c) * rstd_c
        tc[j] = tanh(gc[j] * xc[j] + bc[j])
        h[j] = lerp(a[j] * tc[j], hp[j], kh[j], one)                         # zoneout / padding
        c[j] = lerp(c_new, cp[j], kc[j], one)
    return rstd, rstd_c


def _forward(function, xp, h0, c0, w, gh, gc, bc, eps, h_mask, keep_h, keep_c, valid,
             acts, xr, xc, tanh_c, rstd, hs, cs, y, h_in):  # pragma: no cover - compiled
    """xp: (T, B, 4H); h0, c0: (B, H); w: W_hh (4H, H); options as `lstm_native._forward`. Writes
    acts, xr (x̂_r): (T, B, 4H); xc (x̂_c), tanh_c, hs, cs: (B, T, H); rstd (2, B, T); y when
    valid is given."""
    T, B, G = xp.shape
    H = G // 4
    slots = scratch(xp.dtype)
    rows, eps = np.empty((2, H), xp.dtype), xp.dtype.type(eps)               # carry rows; eps in the dtype
    masked, has_y = h_mask.shape[0] > 0, valid.shape[0] > 0
    if masked:
        h_in[:] = h0 * h_mask
    for t in range(T):
        if masked:
            gemm(function, True, G, B, H, w, h_in[0], H, xr[t, 0], G, 0.0, slots)
        elif t == 0:
            gemm(function, True, G, B, H, w, h0[0], H, xr[t, 0], G, 0.0, slots)
        else:
            gemm(function, True, G, B, H, w, hs[0, t - 1], T * H, xr[t, 0], G, 0.0, slots)
        for b in range(B):
            hp, cp, h = h0[b] if t == 0 else hs[b, t - 1], c0[b] if t == 0 else cs[b, t - 1], hs[b, t]
            rstd[0, b, t], rstd[1, b, t] = _forward_row(
                xr[t, b], xp[t, b], gh, gc, bc, eps, hp, cp, carry_row(keep_h, b, t, rows[0]),
                carry_row(keep_c, b, t, rows[1]), acts[t, b], xc[b, t], tanh_c[b, t], h, cs[b, t])
            for j in range(H if masked else 0):
                h_in[b, j] = h[j] * h_mask[b, j]
            for j in range(H if has_y else 0):
                y[b, t, j] = valid[b, t] * h[j]


def _backward_row(a, tc, xr, xc, rstd_r, rstd_c, cp, kh, kc, gh, gc, hm, rec, dh, dc, da, dr, dxc,
                  acc_gh, acc_gc, acc_bc):  # pragma: no cover - compiled
    """One sequence's step of backward. dh, dc (H,) as in `lstm_native._backward_row` (hm empty:
    the GEMM added the recurrent term already); leaves dh = k_h dh_t. Writes da (4H,) = dL/dxp_t
    and dr (4H,) = dL/dr_t, uses dxc (H,) as scratch and adds this step's terms to the LN gain
    and shift gradients acc_gh (4H,), acc_gc, acc_bc (H,)."""
    H, one = dh.shape[0], da.dtype.type(1)
    for j in range(hm.shape[0]):
        dh[j] += hm[j] * rec[j]
    for j in range(H):
        o, t = a[j], tc[j]
        d_new = dh[j] * (one - kh[j])                                         # dL/dh̃
        da[j] = d_new * (o - o * o) * t                                       # σ'(o) tanh(ĉ)
        d_hat = d_new * o * (one - t * t)                                     # dL/dĉ, ĉ = γ_c x̂_c + β_c
        acc_bc[j] += d_hat
        acc_gc[j] += d_hat * xc[j]
        dxc[j] = d_hat * gc[j]
    m1, m2 = _grad_means(dxc, xc)
    _normalise(dxc, xc, rstd_c, m1, m2)                                       # dL/dc̃ from LN_c
    for j in range(H):
        i, f, g = a[H + j], a[2 * H + j], a[3 * H + j]
        dc_new = dxc[j] + (one - kc[j]) * dc[j]
        da[H + j] = dc_new * (i - i * i) * g
        da[2 * H + j] = dc_new * (f - f * f) * cp[j]
        da[3 * H + j] = dc_new * i * (one - g * g)
        dc[j] = dc_new * f + kc[j] * dc[j]
        dh[j] = kh[j] * dh[j]
    for j in range(da.shape[0]):
        acc_gh[j] += da[j] * xr[j]
        dr[j] = da[j] * gh[j]
    m1, m2 = _grad_means(dr, xr)
    _normalise(dr, xr, rstd_r, m1, m2)                                        # dL/dr from LN_hh


def _backward(function, w, c0, gh, gc, h_mask, keep_h, keep_c, valid, acts, tanh_c, xr, xc, rstd, cs,
              grad_y, grad_h, grad_c, grad_a, grad_r, dh, dc, rec, acc):  # pragma: no cover - compiled
    """The forward's saved arrays and the output gradients -> grad_a, grad_r (T, B, 4H), dL/dh_0
    and dL/dc_0 in dh, dc (B, H), and the LN parameter gradients in acc (6H,) float64:
    (γ_hh | γ_c | β_c)."""
    T, B, G = acts.shape
    H = G // 4
    slots = scratch(acts.dtype)
    rows, none = np.empty((3, H), acts.dtype), np.empty(0, acts.dtype)
    one = acts.dtype.type(1)
    masked, has_v = h_mask.shape[0] > 0, valid.shape[0] > 0
    acc_gh, acc_gc, acc_bc = acc[:G], acc[G:G + H], acc[G + H:]
    for b in range(B):
        dh[b] = grad_h[b] + (valid[b, T - 1] if has_v else one) * grad_y[b, T - 1]
    dc[:] = grad_c
    for t in range(T - 1, -1, -1):
        for b in range(B):
            _backward_row(acts[t, b], tanh_c[b, t], xr[t, b], xc[b, t], rstd[0, b, t], rstd[1, b, t],
                          c0[b] if t == 0 else cs[b, t - 1], carry_row(keep_h, b, t, rows[0]),
                          carry_row(keep_c, b, t, rows[1]), gh, gc, h_mask[b] if masked and t < T - 1 else none,
                          rec[b] if masked else none, dh[b], dc[b], grad_a[t, b], grad_r[t, b], rows[2],
                          acc_gh, acc_gc, acc_bc)
            for j in range(H if t > 0 else 0):
                dh[b, j] += (valid[b, t - 1] if has_v else one) * grad_y[b, t - 1, j]
        if masked:
            gemm(function, False, H, B, G, w, grad_r[t, 0], G, rec[0], H, 0.0, slots)
        else:
            gemm(function, False, H, B, G, w, grad_r[t, 0], G, dh[0], H, 1.0, slots)
    if masked:
        dh += h_mask * rec


if numba is not None:
    _sum = numba.njit(cache=True, error_model="numpy", fastmath={"reassoc"})   # reductions may reorder
    _moments, _grad_means = _sum(_moments), _sum(_grad_means)
_normalise, _forward_row, _backward_row = jit(_normalise), jit(_forward_row), jit(_backward_row)
_forward, _backward = jit(_forward), jit(_backward)


class NativeLayerNormLSTMLoop(torch.autograd.Function):
    """`LSTMLoop` for the layer-norm LSTM, compiled: the same arguments and results. xp: (B, T, 4H)
    gate inputs in order (o, i, f, g) with LN_ih applied; W_hh (4H, H); gain_hh (4H,) the gain of
    LN_hh (which has no shift); gain_c, bias_c (H,) LN_c's; h_mask (B, H); keep_h,
    keep_c carries (None, a float or (B, T, n), n in {1, H}); valid (B, T, 1); eps both LNs'."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, gain_hh: Tensor | None,
                gain_c: Tensor | None, bias_c: Tensor | None, h_mask: Tensor | None,
                keep_h: Carry, keep_c: Carry, valid: Tensor | None, eps: float):
        if gain_hh is None or gain_c is None or bias_c is None:
            raise ValueError("NativeLayerNormLSTMLoop needs gain_hh, gain_c and bias_c (the layer-norm cell's); "
                             "the plain LSTM runs in NativeLSTMLoop")
        check_dtype("NativeLayerNormLSTMLoop", "LSTMLoop", xp)
        B, T, G = xp.shape
        H, dt = G // 4, xp.dtype
        acts, xr = xp.new_empty(T, B, G), xp.new_empty(T, B, G)           # σ(o, i, f), tanh(g); x̂_r
        xc, tanh_c, hs, cs = (xp.new_empty(B, T, H) for _ in range(4))        # x̂_c, tanh(ĉ), h_t, c_t
        rstd = xp.new_empty(2, B, T)                                          # 1/σ of LN_hh, LN_c
        y = hs if valid is None else xp.new_empty(B, T, H)
        if xp.numel():                                # BLAS rejects zero leading dimensions
            hm, kh, kc, v, h_in = options(h_mask, (keep_h, keep_c), valid, h0)
            _forward(gemm_function(dt), array(xp.transpose(0, 1), dt), array(h0, dt), array(c0, dt),
                     array(w_hh, dt), array(gain_hh, dt), array(gain_c, dt),
                     array(bias_c, dt), float(eps), hm, kh, kc, v, acts.numpy(),
                     xr.numpy(), xc.numpy(), tanh_c.numpy(), rstd.numpy(), hs.numpy(), cs.numpy(), y.numpy(),
                     h_in)
        ctx.save_for_backward(h0, c0, w_hh, gain_hh, gain_c, bias_c, h_mask, valid, acts, xr, xc, tanh_c,
                              rstd, hs, cs)
        ctx.keeps = (keep_h, keep_c)
        if T == 0:
            return y, h0.clone(), c0.clone()
        return y, hs[:, -1].clone(), cs[:, -1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, grad_h, grad_c):
        (h0, c0, w_hh, gain_hh, gain_c, bias_c, h_mask, valid, acts, xr, xc, tanh_c, rstd, hs,
         cs) = ctx.saved_tensors
        T, B, G = acts.shape
        H, dt = G // 4, acts.dtype
        grad_a, grad_r = acts.new_empty(T, B, G), acts.new_empty(T, B, G)    # dL/dxp, dL/d(W_hh h_in)
        own = lambda g: g.to(dt, memory_format=torch.contiguous_format, copy=True)  # noqa: E731
        dh, dc = own(grad_h), own(grad_c)                                     # written in place
        acc = np.zeros(6 * H)                                                 # float64: (γ_hh | γ_c | β_c)
        if acts.numel():
            hm, kh, kc, v, rec = options(h_mask, ctx.keeps, valid, h0)
            _backward(gemm_function(dt), array(w_hh, dt), array(c0, dt), array(gain_hh, dt), array(gain_c, dt),
                      hm, kh, kc, v, acts.detach().numpy(), tanh_c.detach().numpy(), xr.numpy(), xc.numpy(),
                      rstd.numpy(), cs.detach().numpy(), array(grad_y, dt), array(grad_h, dt), array(grad_c, dt),
                      grad_a.numpy(), grad_r.numpy(), dh.numpy(), dc.numpy(), rec, acc)
        grad_w = _weight_grad(grad_r, h0, hs, w_hh, h_mask) if ctx.needs_input_grad[3] else None
        sums = torch.from_numpy(acc).to(dt)
        grad_gh, grad_gc, grad_bc = sums[:G], sums[G:G + H], sums[G + H:]
        return (grad_a.transpose(0, 1), dh, dc, grad_w, grad_gh, grad_gc, grad_bc) + (None,) * 5


def _weight_grad(grad_r: Tensor, h0: Tensor, hs: Tensor, w_hh: Tensor, h_mask: Tensor | None) -> Tensor:
    """dW_hh = Σ_t grad_r_tᵀ h_in_t, one GEMM over all steps, for time-major grad_r (T, B, 4H)
    (`_native_common.weight_grad` takes (B, T, ·) and would copy it)."""
    T, B, G = grad_r.shape
    if T == 0:
        return torch.zeros_like(w_hh)
    h_in = scaled(previous(h0, hs, time_major=True), h_mask)                  # (T, B, H)
    return grad_r.reshape(T * B, G).t().mm(h_in.reshape(T * B, h0.size(-1)))  # (4H, H)



def smoke(dtype: torch.dtype) -> None:
    """This loop forward and backward on a tiny input: what `backend.native` tries once per dtype."""
    xp, w = torch.randn(2, 3, 8, dtype=dtype, requires_grad=True), torch.randn(8, 2, dtype=dtype, requires_grad=True)
    h0, c0, ln = torch.zeros(2, 2, dtype=dtype), torch.zeros(2, 2, dtype=dtype), torch.ones(12, dtype=dtype)
    y, h, c = NativeLayerNormLSTMLoop.apply(xp, h0, c0, w, ln[:8], ln[8:10], ln[10:] - 1, None, 0.5, None, None, 1e-5)
    (y.sum() + h.sum() + c.sum()).backward()
