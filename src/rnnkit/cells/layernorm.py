"""Layer-normalised LSTM and GRU cells (Ba, Kiros & Hinton 2016, "Layer Normalization")."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..kernels import bptt_loop, layernorm_gru_loop, layernorm_lstm_loop
from .base import Cell, State


class LayerNormLSTMCell(Cell):
    """LSTM with layer normalisation (Ba et al. 2016, section 3.1; the form of PyTorch's
    fastrnns `LayerNormLSTMCell`):

        i, f, g, o = split(LN_ih(W_ih x) + LN_hh(W_hh h))       gates, order (i, f, g, o)
        c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
        h' = σ(o) ⊙ tanh(LN_c(c'))

    LN_ih's shift is the gate bias (so there is no separate bias_ih/bias_hh); LN_hh has no
    shift, as a second one would be redundant.
    """

    bptt_kernel = staticmethod(layernorm_lstm_loop)
    gates = 4

    def __init__(self, input_size: int, hidden_size: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_size = (hidden_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.ln_ih = nn.LayerNorm(4 * hidden_size, eps=eps)
        self.ln_hh = nn.LayerNorm(4 * hidden_size, eps=eps, bias=False)
        self.ln_c = nn.LayerNorm(hidden_size, eps=eps)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)
        for ln in (self.ln_ih, self.ln_hh, self.ln_c):
            ln.reset_parameters()

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state                                                          # (B, H) each
        gates = self.ln_ih(F.linear(x, self.weight_ih)) + self.ln_hh(F.linear(h, self.weight_hh))
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(self.ln_c(c))
        return h, (h, c)

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """Fast path: the hand-written BPTT loop of `rnnkit.kernels` (LN_ih for all T at once)."""
        out = bptt_loop(self, x, state, mask=mask, h_mask=h_mask)
        return out if out is not None else self.reference_scan(x, state, mask, h_mask)


class LayerNormGRUCell(Cell):
    """GRU with layer normalisation (Ba et al. 2016) in torch's gate form:

        xr, xz, xn = split(LN_ih(W_ih x)),   hr, hz, hn = split(LN_hh(W_hh h))
        r = σ(xr + hr),  z = σ(xz + hz),  n = tanh(xn + r ⊙ hn)
        h' = (1 - z) ⊙ n + z ⊙ h

    LN_ih's shift is the input bias, LN_hh's shift the recurrent bias b_hn that r multiplies.
    """

    bptt_kernel = staticmethod(layernorm_gru_loop)
    gates = 3

    def __init__(self, input_size: int, hidden_size: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_size = (hidden_size,)
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.ln_ih = nn.LayerNorm(3 * hidden_size, eps=eps)
        self.ln_hh = nn.LayerNorm(3 * hidden_size, eps=eps)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.weight_hh, -bound, bound)
        self.ln_ih.reset_parameters()
        self.ln_hh.reset_parameters()

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        return self.recurrent_step(x, state, state[0])

    def recurrent_step(self, x: Tensor, state: State, h_in: Tensor) -> tuple[Tensor, State]:
        """h_in enters the recurrent product; the carry z ⊙ h keeps the state's own h."""
        (h,) = state
        xr, xz, xn = self.ln_ih(F.linear(x, self.weight_ih)).chunk(3, dim=-1)
        hr, hz, hn = self.ln_hh(F.linear(h_in, self.weight_hh)).chunk(3, dim=-1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = torch.lerp(n, h, z)
        return h, (h,)

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """Fast path: the hand-written BPTT loop of `rnnkit.kernels` (LN_ih for all T at once)."""
        out = bptt_loop(self, x, state, mask=mask, h_mask=h_mask)
        return out if out is not None else self.reference_scan(x, state, mask, h_mask)
