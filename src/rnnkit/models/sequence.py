"""Many-to-one: a recurrent stack reads a sequence, a linear head maps its last valid output."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..layers import LockedDropout


class SequenceModel(nn.Module):
    """y = W h_last + b, where h_last is the stack's output at each sequence's last valid step:
    (B, T, I) -> (B, O). Regression values or classification logits; the task scores them."""

    def __init__(self, rnn: nn.Module, output_size: int, *, input_dropout: float = 0.0,
                 output_dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn = rnn
        self.input_dropout, self.output_dropout = LockedDropout(input_dropout), LockedDropout(output_dropout)
        self.head = nn.Linear(rnn.output_size, output_size)

    def forward(self, x: Tensor, state: tuple | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, tuple]:
        y, state = self.rnn(self.input_dropout(x), state, lengths)                # (B, T, H)
        y = self.output_dropout(y)
        if lengths is None:
            last = y[:, -1]                                                       # (B, H)
        else:
            last = y[torch.arange(y.size(0), device=y.device), lengths.to(y.device) - 1]
        return self.head(last), state                                             # (B, O)
