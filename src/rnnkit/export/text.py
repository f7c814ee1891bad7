"""The text and sequence models' graphs: a language model's next-token logits, a classifier's
class logits (and attention weights)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..layers.pooling import AttentionPooling, LastPooling
from ..models.classifier import SequenceClassifier
from ..models.language_model import LanguageModel
from .base import Graph, Port, dtype_name
from .errors import ExportError


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
        return [Port("logits", dtype_name(self.dtype), ("batch", "time", self.decoder.out_features))]


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
        if streaming and getattr(model, "differences", None) is not None:
            raise ExportError("streaming a classifier that reads first differences would need each chunk's last "
                              "input as extra state (not done): export it without --streaming")
        super().__init__(model.rnn, model.rnn.input_size, streaming=streaming, dtype=dtype)
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
        return [Port("features", dtype_name(self.dtype), ("batch", "time", self.model.input_size))]

    def outputs(self) -> list[Port]:
        ports = [Port("logits", dtype_name(self.dtype), ("batch", self.model.num_classes))]
        if self.attends and not self.streaming:
            ports.append(Port("attention", dtype_name(self.dtype), ("batch", "time")))
        return ports
