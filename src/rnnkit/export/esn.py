"""Echo state networks' graphs: the reservoir(s) driven over time by the same scripted loop as any
cell (the reservoir's weights are dense buffers, sparse in value), then the ridge-trained readout:
per step for an `EchoStateNetwork`, after pooling for an `EchoStateClassifier`. Closed-loop
generation (feeding each prediction back) is the caller's loop over a streaming graph."""

from __future__ import annotations

import torch
from torch import Tensor

from ..layers.scan import time_mask
from ..models.esn import EchoStateClassifier, EchoStateNetwork
from .base import Graph, Port, dtype_name
from .errors import ExportError


class EchoStateGraph(Graph):
    """inputs (B, T, I) [and feedback (B, T, O): y_{t-1}, when the reservoir takes output feedback]
    -> outputs (B, T, O), zero after each row's length."""

    def __init__(self, model: EchoStateNetwork, *, streaming: bool, dtype: torch.dtype) -> None:
        body = model.body
        super().__init__(body.reservoir, body.input_size + body.feedback_size, streaming=streaming, dtype=dtype,
                         collect=True)
        self.model, self.feedback = model, body.feedback_size

    def forward(self, x: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        feedback, lengths, state = (rest[0], rest[1], rest[2:]) if self.feedback else (None, rest[0], rest[1:])
        u = x if feedback is None else torch.cat([x, feedback], dim=-1)           # (B, T, I + O)
        features, s = self.loop(u, lengths, self.initial(x, state))              # (B, T, sum H)
        if self.model.body.input_to_readout:
            features = torch.cat([features, x], dim=-1)
        y = self.model.readout(features) * time_mask(lengths, x.size(1))[:, :, None].to(x.dtype)
        return (y, *self.split(s))                                                # (B, T, O)

    def inputs(self) -> list[Port]:
        ports = [Port("inputs", dtype_name(self.dtype), ("batch", "time", self.model.input_size))]
        if self.feedback:
            ports.append(Port("feedback", dtype_name(self.dtype), ("batch", "time", self.feedback)))
        return ports

    def outputs(self) -> list[Port]:
        return [Port("outputs", dtype_name(self.dtype), ("batch", "time", self.model.output_size))]


class EchoStateClassifierGraph(Graph):
    """features (B, T, I) -> logits (B, C): standardised, padding zeroed, reservoir states pooled."""

    def __init__(self, model: EchoStateClassifier, *, streaming: bool, dtype: torch.dtype) -> None:
        if streaming:
            raise ExportError("an echo state classifier pools its reservoir states over the whole sequence: "
                              "export it without --streaming")
        body = model.body
        super().__init__(body.reservoir, body.input_size, streaming=False, dtype=dtype, collect=True)
        self.model = model

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        x = self.model.inputs(x) * time_mask(lengths, x.size(1))[:, :, None].to(x.dtype)
        features, s = self.loop(x, lengths, self.initial(x, ()))                 # (B, T, sum H)
        if self.model.body.input_to_readout:
            features = torch.cat([features, x], dim=-1)
        return (self.model.readout(self.model.pooling(features, lengths)), *self.split(s))   # (B, C)

    def inputs(self) -> list[Port]:
        return [Port("features", dtype_name(self.dtype), ("batch", "time", self.model.input_size))]

    def outputs(self) -> list[Port]:
        return [Port("logits", dtype_name(self.dtype), ("batch", self.model.num_classes))]
