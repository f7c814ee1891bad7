"""Dilated recurrence (Chang et al. 2017, "Dilated Recurrent Neural Networks"): a layer whose
state at step t comes from step t - d instead of t - 1.

    h_t = cell(x_t, h_{t-d})

A dilated layer is the same layer run on the d interleaved subsequences x_j, x_{j+d}, x_{j+2d}, ...
(j = 0 .. d-1), each as its own sequence; so it costs no more work than the undilated layer and
takes 1/d of the sequential steps. Stacking dilations (1, 3, 6, 12 in Smyl's M4 monthly ES-RNN,
2020) lets the top layers see a season back in one step.

    layer = Dilated(Recurrent(LSTMCell(8, 32)), 3)
    y, state = layer(x)                    # (B, T, 8) -> (B, T, 32); state: the wrapped layer's, batch B * 3
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Dilated(nn.Module):
    def __init__(self, layer: nn.Module, dilation: int) -> None:
        super().__init__()
        if dilation < 1:
            raise ValueError(f"dilation must be >= 1 (1 = an ordinary layer), got {dilation}")
        self.layer, self.dilation = layer, dilation

    @property
    def input_size(self) -> int:
        return self.layer.input_size

    @property
    def output_size(self) -> int:
        return self.layer.output_size

    def forward(self, x: Tensor, state=None, lengths: Tensor | None = None) -> tuple[Tensor, object]:
        d = self.dilation
        if d == 1:
            return self.layer(x, state, lengths)
        B, T, _ = x.shape
        S = -(-T // d)                                                      # steps per subsequence
        x = nn.functional.pad(x, (0, 0, 0, S * d - T))                      # (B, S d, I)
        # Step s of phase j is time s d + j: (B, S, d, I) -> (B, d, S, I) -> (B d, S, I)
        sub = x.view(B, S, d, -1).transpose(1, 2).reshape(B * d, S, -1)
        sub_lengths = None
        if lengths is not None or S * d != T:        # ragged phases: mask their padding (else the fast path)
            n = torch.full((B,), T, device=x.device) if lengths is None else lengths.to(x.device)
            phase = torch.arange(d, device=x.device)
            # phase j of a sequence of n steps has ceil((n - j) / d) valid ones (0 when n <= j)
            sub_lengths = ((n[:, None] - phase + d - 1) // d).clamp(min=0).reshape(B * d)
        y, state = self.layer(sub, state, sub_lengths)                       # (B d, S, H)
        y = y.reshape(B, d, S, -1).transpose(1, 2).reshape(B, S * d, -1)    # back to time order
        return y[:, :T], state

    def extra_repr(self) -> str:
        return f"dilation={self.dilation}"
