"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?"): a GRU whose gates do not look at
h, so the whole sequence is one linear recurrence and trains with a parallel scan."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..kernels.linear_scan import NativeMinGRUScan, linear_recurrence, native_mingru, parallel_scan_log
from .base import Cell, State


def _g(x: Tensor) -> Tensor:
    """The positive activation of the paper's log-space minGRU (appendix B.3): x + 1/2 for
    x >= 0, σ(x) below, continuous at 0 and always > 0 so the candidate has a logarithm."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def _log_g(x: Tensor) -> Tensor:
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


class MinGRUCell(Cell):
    """minGRU step (Feng et al. 2024, algorithm 2 with the log-space activation g):

        z_t = σ(W_iz x_t + b_iz)
        h̃_t = g(W_ih̃ x_t + b_ih̃)
        h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t

    The gates depend on x only, so h_t = a_t h_{t-1} + b_t with a_t = 1 - z_t, b_t = z_t h̃_t;
    `scan` solves it for all t in parallel in log space, `step` is the sequential form.
    Parameters: weight_ih (2H, I), bias_ih (2H), gate order (z, h̃).
    """

    gates = 2

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_size = (hidden_size,)
        self.add_gate_parameters(2, bias=bias, recurrent=False)
        self.reset_parameters()


    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        (h,) = state                                                          # (B, H)
        k, u = F.linear(x, self.weight_ih, self.bias_ih).chunk(2, dim=-1)
        z = torch.sigmoid(k)
        h = torch.lerp(h, _g(u), z)                                           # (1 - z) h + z h̃
        return h, (h,)

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """All T steps at once: one GEMM for the gates, then the linear recurrence
        h_t = a_t h_{t-1} + b_t, with a_t = 1 - z_t and b_t = z_t h̃_t. On a GPU it is the paper's
        parallel log-space scan; on the CPU a hand-written BPTT loop of one multiply-add per
        step is faster (kernels/linear_scan.py), and faster still compiled with the gates fused
        into it (kernels/linear_scan_native.py, the default backend). minGRU's gates never see h, so there is no
        recurrent product for h_mask to act on."""
        if h_mask is not None:
            raise ValueError("minGRU has no recurrent weights, so recurrent dropout does not apply; "
                             "use LockedDropout on its inputs or outputs instead")
        (h0,) = state
        if x.size(1) == 0:
            return self.reference_scan(x, state, mask)
        gates = F.linear(x, self.weight_ih, self.bias_ih)                     # (B, T, 2H)
        if native_mingru(gates):    # z, h̃, the recurrence and their gradients in one compiled loop each
            y, final = NativeMinGRUScan.apply(gates, h0, mask)
            return y, (final,)
        k, u = gates.chunk(2, dim=-1)                                         # (B, T, H) each
        if x.is_cuda:
            h = self._log_space_scan(k, u, h0, mask)
        else:
            z = torch.sigmoid(k)
            a, b = 1 - z, z * _g(u)
            if mask is not None:                       # padded steps carry the state: a = 1, b = 0
                keep = mask[:, :, None]
                a, b = torch.where(keep, a, torch.ones_like(a)), torch.where(keep, b, torch.zeros_like(b))
            h = linear_recurrence(a, b, h0)                                   # (B, T, H)
        final = h[:, -1]
        if mask is not None:
            h = h * mask[:, :, None].to(h.dtype)
        return h, (final,)

    @staticmethod
    def _log_space_scan(k: Tensor, u: Tensor, h0: Tensor, mask: Tensor | None) -> Tensor:
        """The paper's parallel form (Feng et al. 2024, algorithm 4 / appendix B.3)."""
        log_a = -F.softplus(k)                                                # log(1 - z)
        log_b = -F.softplus(-k) + _log_g(u)                                   # log(z h̃)
        if mask is not None:
            # Padded steps carry the state: a = 1 and b = 0 (a huge negative log, not -inf,
            # keeps logcumsumexp's gradient finite).
            keep = mask[:, :, None]
            log_a = torch.where(keep, log_a, torch.zeros_like(log_a))
            log_b = torch.where(keep, log_b, torch.full_like(log_b, torch.finfo(k.dtype).min / 4))
        return parallel_scan_log(log_a, log_b, h0)                            # (B, T, H)
