"""One sequence's step of the compiled layer-norm LSTM loop (`lstm_ln_native`), forward and
backward, as numba functions over rows (Ba et al. 2016, eq. 20-22):

    forward:   x̂_i = LN(u) with u = W_ih x_t;  x̂_r = LN(r) with r = h_in W_hhᵀ (the GEMM);
               a = γ_ih x̂_i + β_ih + γ_hh x̂_r;  o, i, f = σ(a_o, a_i, a_f);  g = tanh(a_g)
               c̃ = f c + i g;  x̂_c = LN(c̃);  h̃ = o tanh(γ_c x̂_c + β_c)
               h_t, c_t = lerp(h̃, h_{t-1}, k_h), lerp(c̃, c_{t-1}, k_c)
    backward:  the gates' gradients, then LN's input gradient for c̃, r and u (`_native_layer_norm`)

The loop keeps only x̂_i, x̂_r (4H each), h_t, c_t (H each) and four numbers per row (1/σ of u and r,
μ and 1/σ of c̃): backward recomputes the gates, c̃, x̂_c and tanh(ĉ) from them with the same
compiled code as forward, so bit for bit, instead of keeping another 6H per row. That is where
the layer-norm LSTM's training memory goes below nn.LSTM's (docs/benchmarks.md). Gates are in the
kernel order (o, i, f, g), as `lstm.LSTMLoop`'s; every loop starts at 0 and offsets its index
(numba's loops from a nonzero start stayed scalar, see `lstm_native`).
"""

from __future__ import annotations

from ._fastmath import sigmoid, tanh
from ._native_common import jit, lerp
from ._native_layer_norm import input_grad, moments, normalise


@jit
def gates(xi, xr, gi, bi, gh, a):  # pragma: no cover - compiled
    """a (4H,) <- σ(o, i, f), tanh(g) of the pre-activations γ_ih x̂_i + β_ih + γ_hh x̂_r."""
    H = a.shape[0] // 4
    for j in range(3 * H):
        a[j] = sigmoid(gi[j] * xi[j] + bi[j] + gh[j] * xr[j])
    for j in range(H):
        k = 3 * H + j
        a[k] = tanh(gi[k] * xi[k] + bi[k] + gh[k] * xr[k])


@jit
def new_cell(a, cp, xc):  # pragma: no cover - compiled
    """xc (H,) <- c̃ = f c_{t-1} + i g."""
    H = xc.shape[0]
    for j in range(H):
        xc[j] = a[2 * H + j] * cp[j] + a[H + j] * a[3 * H + j]


@jit
def cell_output(xc, mean_c, rstd_c, gc, bc, tc):  # pragma: no cover - compiled
    """xc: c̃ on entry, x̂_c on exit; tc (H,) <- tanh(γ_c x̂_c + β_c)."""
    for j in range(xc.shape[0]):
        xc[j] = (xc[j] - mean_c) * rstd_c
        tc[j] = tanh(gc[j] * xc[j] + bc[j])


@jit
def forward_row(u, r, xi, gi, bi, gh, gc, bc, eps, hp, cp, kh, kc, a, xc, tc, h, c, stats):  # pragma: no cover
    """u (4H,): W_ih x_t; r (4H,): W_hh h_in on entry, x̂_r on exit; xi (4H,) <- x̂_i; gi, bi, gh
    (4H,), gc, bc (H,): LN gains and shifts; hp, cp: the previous state; kh, kc: the carries; a, xc,
    tc: scratch rows (4H, H, H); h, c <- the new state; stats (4,) <- 1/σ_u, 1/σ_r, μ_c, 1/σ_c."""
    one = h.dtype.type(1)
    stats[0] = normalise(u, xi, eps)[1]
    stats[1] = normalise(r, r, eps)[1]
    gates(xi, r, gi, bi, gh, a)
    new_cell(a, cp, xc)
    stats[2], stats[3] = moments(xc, eps)
    for j in range(h.shape[0]):
        c[j] = lerp(xc[j], cp[j], kc[j], one)                                 # zoneout / padding
    cell_output(xc, stats[2], stats[3], gc, bc, tc)
    for j in range(h.shape[0]):
        h[j] = lerp(a[j] * tc[j], hp[j], kh[j], one)


@jit
def backward_row(xi, xr, stats, cp, kh, kc, gi, bi, gh, gc, bc, hm, rec, dh, dc, du, dr, rows,
                 acc):  # pragma: no cover - compiled
    """One sequence's step of backward. xi, xr (4H,): the step's x̂_i, x̂_r; stats: forward's four;
    dh, dc (H,): dL/dh_t (the GEMM added the recurrent term already unless hm is given, then
    rec holds it) and dL/dc_t, left as the carried parts k_h dh, dc_{t-1}. Writes du, dr (4H,),
    dL/du_t and dL/dr_t; rows (3, 4H): scratch; adds this step's LN parameter gradients to acc
    (14H,) float64: (γ_ih | β_ih | γ_hh | γ_c | β_c)."""
    H, one = dh.shape[0], dh.dtype.type(1)
    G = 4 * H
    a, da, xc, tc, dxc = rows[0], rows[1], rows[2, :H], rows[2, H:2 * H], rows[2, 2 * H:3 * H]
    gates(xi, xr, gi, bi, gh, a)                                              # recomputed, bit for bit
    new_cell(a, cp, xc)
    cell_output(xc, stats[2], stats[3], gc, bc, tc)
    for j in range(hm.shape[0]):
        dh[j] += hm[j] * rec[j]
    for j in range(H):
        o, t = a[j], tc[j]
        d_new = dh[j] * (one - kh[j])                                         # dL/dh̃
        da[j] = d_new * (o - o * o) * t                                       # σ'(o) tanh(ĉ)
        d_hat = d_new * o * (one - t * t)                                     # dL/dĉ, ĉ = γ_c x̂_c + β_c
        acc[3 * G + H + j] += d_hat
        acc[3 * G + j] += d_hat * xc[j]
        dxc[j] = d_hat * gc[j]
    input_grad(dxc, xc, stats[3])                                             # dL/dc̃ from LN_c
    for j in range(H):
        i, f, g = a[H + j], a[2 * H + j], a[3 * H + j]
        dc_new = dxc[j] + (one - kc[j]) * dc[j]
        da[H + j] = dc_new * (i - i * i) * g
        da[2 * H + j] = dc_new * (f - f * f) * cp[j]
        da[3 * H + j] = dc_new * i * (one - g * g)
        dc[j] = dc_new * f + kc[j] * dc[j]
        dh[j] = kh[j] * dh[j]
    for j in range(G):
        acc[j] += da[j] * xi[j]
        acc[G + j] += da[j]
        acc[2 * G + j] += da[j] * xr[j]
        du[j] = da[j] * gi[j]
        dr[j] = da[j] * gh[j]
    input_grad(du, xi, stats[0])                                              # dL/du from LN_ih
    input_grad(dr, xr, stats[1])                                              # dL/dr from LN_hh
