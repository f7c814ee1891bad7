"""Each task's model as an exportable module: its own pre- and post-processing around the
scripted recurrence (export/recurrence.py), with named inputs and outputs.

Every graph takes `lengths` (B,) beside its inputs (the valid steps of each row; in a streaming
graph, of this chunk), and returns the final state as `state_out.*` tensors. A streaming graph also
takes the state as `state_in.*` tensors, so a caller can feed one step or many at a time and keep
the state between calls; a whole-sequence graph starts from zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..layers.pooling import AttentionPooling, LastPooling
from ..models.classifier import SequenceClassifier
from ..models.language_model import LanguageModel
from .errors import ExportError
from .recurrence import StateSlot, recurrence


@dataclass(frozen=True)
class Port:
    """A named graph input or output: its dtype ("float32", "int64") and axes (names are dynamic)."""

    name: str
    dtype: str
    axes: tuple[str | int, ...]


class Graph(nn.Module):
    """Base of the task graphs: the recurrence, its state slots and the state plumbing."""

    def __init__(self, stack: nn.Module, input_size: int, *, streaming: bool, dtype: torch.dtype) -> None:
        super().__init__()
        self.loop, self.slots = recurrence(stack, input_size, dtype=dtype, streaming=streaming)
        self.streaming, self.dtype = streaming, dtype
        self.vocab = 0                               # token ids run below this (0: float inputs)
        self.width = self.slots[-1].stop if self.slots else 0

    def initial(self, batch_of: Tensor, state: tuple[Tensor, ...]) -> Tensor:
        """The flat (B, S) state: the given state_in tensors side by side, or zeros."""
        if self.streaming:
            return torch.cat(state, dim=1)
        return torch.zeros(batch_of.size(0), self.width, dtype=self.dtype, device=batch_of.device)

    def split(self, state: Tensor) -> tuple[Tensor, ...]:
        return tuple(state[:, s.start:s.stop] for s in self.slots)

    def state_ports(self, direction: str) -> list[Port]:
        return [Port(f"state_{direction}.{s.name}", _dtype_name(self.dtype), ("batch", s.stop - s.start))
                for s in self.slots]

    def inputs(self) -> list[Port]:
        raise NotImplementedError

    def outputs(self) -> list[Port]:
        raise NotImplementedError

    def input_ports(self) -> list[Port]:
        return [*self.inputs(), Port("lengths", "int64", ("batch",)),
                *(self.state_ports("in") if self.streaming else [])]

    def output_ports(self) -> list[Port]:
        return [*self.outputs(), *self.state_ports("out")]


class LanguageModelGraph(Graph):
    """tokens (B, T) int64 -> logits (B, T, V): the next-token scores after each token."""

    def __init__(self, model: LanguageModel, *, streaming: bool, dtype: torch.dtype) -> None:
        super().__init__(model.rnn, model.embedding_size, streaming=streaming, dtype=dtype)
        self.embedding, self.decoder = model.embedding, model.decoder
        self.vocab = model.vocab_size

    def forward(self, tokens: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        x = self.embedding(tokens)                                            # (B, T) -> (B, T, E)
        y, s = self.loop(x, lengths, self.initial(tokens, state))             # (B, T, H)
        return (self.decoder(y), *self.split(s))                              # (B, T, V)

    def inputs(self) -> list[Port]:
        return [Port("tokens", "int64", ("batch", "time"))]

    def outputs(self) -> list[Port]:
        return [Port("logits", _dtype_name(self.dtype), ("batch", "time", self.decoder.out_features))]


class ClassifierGraph(Graph):
    """tokens (B, T) int64 or features (B, T, I) -> logits (B, C) [and attention (B, T)].

    Streaming needs `last` pooling: the logits after a chunk are then the head on the top layer's
    last output, i.e. on its state; mean, max and attention pooling read every step, so they are
    refused (carrying their running sums as extra state is not done)."""

    def __init__(self, model: SequenceClassifier, *, streaming: bool, dtype: torch.dtype) -> None:
        if streaming and not isinstance(model.pooling, LastPooling):
            raise ExportError(f"streaming a classifier needs pooling = \"last\"; this "
                              f"one pools with {type(model.pooling).__name__}, which reads the whole sequence: "
                              "export it without --streaming")
        super().__init__(model.rnn, model.input_size, streaming=streaming, dtype=dtype)
        self.model = model
        self.text = model.embedding is not None
        self.vocab = model.embedding.num_embeddings if self.text else 0
        self.attends = isinstance(model.pooling, AttentionPooling)
        top = [s for s in self.slots if s.name.startswith(f"layer{len(self.loop.layers) - 1}.")]
        self.top = top[0] if top else None

    def forward(self, x: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        y, s = self.loop(self.model.inputs(x), lengths, self.initial(x, state))  # (B, T, H)
        if self.streaming:                   # last pooling: the top layer's h after this chunk
            return (self.model.head(s[:, self.top.start:self.top.stop]), *self.split(s))
        if self.attends:
            pooled, weights = self.model.pooling.weighted(y, lengths)         # (B, H), (B, T)
            return (self.model.head(pooled), weights, *self.split(s))
        return (self.model.head(self.model.pooling(y, lengths)), *self.split(s))   # (B, C)

    def inputs(self) -> list[Port]:
        if self.text:
            return [Port("tokens", "int64", ("batch", "time"))]
        return [Port("features", _dtype_name(self.dtype), ("batch", "time", self.model.input_size))]

    def outputs(self) -> list[Port]:
        ports = [Port("logits", _dtype_name(self.dtype), ("batch", self.model.num_classes))]
        if self.attends and not self.streaming:
            ports.append(Port("attention", _dtype_name(self.dtype), ("batch", "time")))
        return ports


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def graph_of(model: nn.Module, *, streaming: bool = False, dtype: torch.dtype = torch.float32) -> Graph:
    """The exportable graph of a task's model (in eval mode), by the model's kind."""
    model = model.eval()
    if isinstance(model, LanguageModel):
        return LanguageModelGraph(model, streaming=streaming, dtype=dtype).eval()
    if isinstance(model, SequenceClassifier):
        return ClassifierGraph(model, streaming=streaming, dtype=dtype).eval()
    raise ExportError(f"a {type(model).__name__} has no export yet")


__all__ = ["ClassifierGraph", "Graph", "LanguageModelGraph", "Port", "StateSlot", "graph_of"]
