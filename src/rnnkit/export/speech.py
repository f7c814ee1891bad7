"""The CTC acoustic model's graph: feature frames in, per-frame log-probabilities out (class 0 is
the blank), with the valid output frames of each row. Decoding (greedy or beam search with a word
model) stays with the caller: docs/deploy.md."""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.classifier import standardized
from ..models.ctc import ConvFront, CTCModel
from .base import Graph, Port, dtype_name


class CTCGraph(Graph):
    """features (B, T, I) -> log_probs (B, T', C), output_lengths (B,).

    With a convolutional front (stride s), a streaming graph also carries the front's state, the
    last k - 1 input frames, as `state_in.front` / `state_out.front` (B, k - 1, I); a chunk's length
    should then be a multiple of s, as for `CTCModel` itself."""

    def __init__(self, model: CTCModel, *, streaming: bool, dtype: torch.dtype) -> None:
        super().__init__(model.rnn, model.front.output_size, streaming=streaming, dtype=dtype)
        self.model = model
        self.conv = isinstance(model.front, ConvFront)

    def forward(self, x: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        front = state[0] if self.streaming and self.conv else None
        rnn_state = state[1:] if self.streaming and self.conv else state
        h, front = self.model.front(standardized(self.model, x), front)           # (B, T', F)
        frames = self.model.output_lengths(lengths).clamp_max(h.size(1))
        y, s = self.loop(h, frames, self.initial(x, rnn_state))                   # (B, T', H)
        log_probs = self.model.head(y).log_softmax(-1)                             # (B, T', C)
        fronts = (front,) if self.conv else ()
        return (log_probs, frames, *fronts, *self.split(s))

    def inputs(self) -> list[Port]:
        return [Port("features", dtype_name(self.dtype), ("batch", "time", self.model.input_size))]

    def outputs(self) -> list[Port]:
        return [Port("log_probs", dtype_name(self.dtype), ("batch", "frames", self.model.num_classes)),
                Port("output_lengths", "int64", ("batch",))]

    def front_port(self, direction: str) -> list[Port]:
        if not self.conv:
            return []
        front = self.model.front
        return [Port(f"state_{direction}.front", dtype_name(self.dtype), ("batch", front.kernel - 1,
                                                                         self.model.input_size))]

    def input_ports(self) -> list[Port]:
        ports = super().input_ports()
        return ports[:2] + self.front_port("in") + ports[2:] if self.streaming else ports

    def output_ports(self) -> list[Port]:
        return [*self.outputs(), *self.front_port("out"), *self.state_ports("out")]
