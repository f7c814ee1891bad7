"""The translation model's graphs: the encoder, run once per batch of source sentences, and one
decoder step, run once per output token, with the memory and the state kept by the caller.

    encoder:       source (B, T), lengths (B,) -> keys (B, T, K) [, projected (B, T, A)], state_out.*
    decoder_step:  token (B,), keys [, projected], lengths, state_in.* -> logits (B, V), attention (B, T),
                   state_out.*

The state is the decoder rnn's, one tensor per layer and component (`layer0.h`, `layer0.c`, ...),
plus `feed` (h~ of the last step, zeros at the start) when the model uses input feeding: what
`Seq2Seq.encode` returns and `Decoder.step` carries, flattened into named tensors. `projected`
(the attention's projection of the keys, computed once per sentence as `Decoder.memory` does) is
there only for an attention that projects (additive and general; the dot score reads the keys).
Greedy or beam search over the decoder step stays with the caller, as in models/decode.py.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..layers import AdditiveAttention, MultiplicativeAttention
from ..layers.scan import time_mask
from ..models.seq2seq import Decoder, Seq2Seq
from .base import Graph, Port, dtype_name
from .recurrence import StateSlot


class DecoderStepGraph(Graph):
    """token (B,) int64, keys (B, T, K) [, projected (B, T, A)], lengths (B,), state_in.* ->
    logits (B, V), attention (B, T) (zeros without attention), state_out.*: one `Decoder.step`,
    the rnn run as a one-step recurrence (its traced cell steps, never the fused kernels)."""

    def __init__(self, model: Seq2Seq, *, dtype: torch.dtype) -> None:
        decoder = model.decoder
        super().__init__(decoder.rnn, decoder.rnn.input_size, streaming=True, dtype=dtype)
        self.decoder = decoder
        self.vocab = decoder.embedding.num_embeddings
        self.rnn_width = self.width                      # the rnn's columns of the flat state; feed follows
        top = f"layer{len(decoder.rnn.layers) - 1}."
        self.query = next(s for s in self.slots if s.name.startswith(top))     # the top layer's h: Bahdanau's query
        if decoder.input_feeding:
            self.slots = [*self.slots, StateSlot("feed", self.width, self.width + decoder.hidden_size)]
        self.projects = projected_size(decoder) > 0
        self.memory = memory_ports(model, dtype)

    def forward(self, token: Tensor, keys: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        projected = rest[0] if self.projects else None
        lengths, state = rest[int(self.projects)], rest[1 + int(self.projects):]
        decoder = self.decoder
        flat = self.initial(token, state)                                        # (B, S)
        rnn_state, feed = flat[:, :self.rnn_width], flat[:, self.rnn_width:]
        parts = [decoder.embedding(token)]                                       # (B,) -> (B, E)
        weights = torch.zeros_like(keys[:, :, 0])                                # (B, T)
        if decoder.additive:                   # Bahdanau: queried with the previous top-layer h
            query = rnn_state[:, self.query.start:self.query.stop]
            context, weights = decoder.attention(keys, query, lengths, projected=projected)     # (B, K)
            parts.append(context)
        if decoder.input_feeding:
            parts.append(feed)
        x = torch.cat(parts, dim=-1)[:, None]                                    # (B, 1, I)
        # one step for every row: lengths of ones (built from `lengths` so its batch axis stays dynamic)
        y, rnn_state = self.loop(x, torch.ones_like(lengths), rnn_state)       # (B, 1, H)
        h = y[:, 0]
        if decoder.attention is not None:
            if not decoder.additive:           # Luong: queried with the new h
                context, weights = decoder.attention(keys, h, lengths, projected=projected)
            h = torch.tanh(decoder.combine(torch.cat([context, h], dim=-1)))     # h~: (B, H)
        new = torch.cat([rnn_state, h], dim=1) if decoder.input_feeding else rnn_state
        return (decoder.output(decoder.dropout(h)), weights, *self.split(new))   # (B, V)

    def inputs(self) -> list[Port]:
        return [Port("token", "int64", ("batch",)), *self.memory]

    def outputs(self) -> list[Port]:
        f = dtype_name(self.dtype)
        return [Port("logits", f, ("batch", self.vocab)), Port("attention", f, ("batch", "time"))]


class EncoderGraph(Graph):
    """source (B, T) int64, lengths (B,) -> keys (B, T, K) (zero past each length) [, projected
    (B, T, A)], state_out.*: `Seq2Seq.encode`, with the decoder's initial state (the bridge of the
    encoder's final states, and zeros for feed) laid out as the decoder step's `slots`."""

    def __init__(self, model: Seq2Seq, slots: list[StateSlot], *, dtype: torch.dtype) -> None:
        encoder = model.encoder
        super().__init__(encoder.rnn, encoder.rnn.input_size, streaming=False, dtype=dtype)
        self.embedding, self.decoder = encoder.embedding, model.decoder
        self.vocab = encoder.embedding.num_embeddings
        self.summary = summary_slots(self.slots, len(encoder.rnn.layers))
        self.slots = slots           # what this graph returns; the encoder's own state is only read (summary)
        self.projects = projected_size(model.decoder) > 0
        self.memory = memory_ports(model, dtype)

    def forward(self, source: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        x = self.embedding(source)                                               # (B, T) -> (B, T, E)
        y, s = self.loop(x, lengths, self.initial(source, ()))                   # (B, T, K)
        keys = y * time_mask(lengths, y.size(1))[:, :, None].to(y.dtype)        # as Seq2Seq.encode masks them
        summary = torch.cat([s[:, a.start:a.stop] for a in self.summary], dim=1)   # (B, K)
        state = torch.tanh(self.decoder.bridge(summary))                         # (B, S_rnn)
        if self.decoder.input_feeding:
            feed = summary.new_zeros(summary.size(0), self.decoder.hidden_size)  # (B, H): no h~ before step 1
            state = torch.cat([state, feed], dim=1)
        projected = (self.decoder.attention.project_keys(keys),) if self.projects else ()
        return (keys, *projected, *self.split(state))

    def inputs(self) -> list[Port]:
        return [Port("source", "int64", ("batch", "time"))]

    def outputs(self) -> list[Port]:
        return self.memory


def seq2seq_graphs(model: Seq2Seq, *, streaming: bool, dtype: torch.dtype) -> dict[str, Graph]:
    """The encoder and decoder-step graphs of a translation model. `streaming` changes nothing:
    the decoder step always takes and returns the state, and the encoder reads whole sentences."""
    step = DecoderStepGraph(model, dtype=dtype)
    return {"encoder": EncoderGraph(model, step.slots, dtype=dtype), "decoder_step": step}


def projected_size(decoder: Decoder) -> int:
    """A of the attention's projected keys; 0 when it has none (no attention, the dot score)."""
    attention: nn.Module | None = decoder.attention
    if isinstance(attention, AdditiveAttention):
        return attention.attention_size
    if isinstance(attention, MultiplicativeAttention) and attention.weight is not None:
        return attention.query_size
    return 0


def memory_ports(model: Seq2Seq, dtype: torch.dtype) -> list[Port]:
    """keys [and projected]: the encoder's outputs that every decoder step reads."""
    f, size = dtype_name(dtype), projected_size(model.decoder)
    keys = Port("keys", f, ("batch", "time", model.encoder.output_size))
    return [keys, *([Port("projected", f, ("batch", "time", size))] if size else [])]


def summary_slots(slots: list[StateSlot], layers: int) -> list[StateSlot]:
    """The encoder's top-layer h (forward's last, then a bidirectional layer's backward first):
    `Encoder.forward`'s summary, which the bridge maps to the decoder's initial state."""
    top = f"layer{layers - 1}."
    forward = next(s for s in slots if s.name.startswith(top) and not s.name.startswith(f"{top}backward."))
    backward = [s for s in slots if s.name.startswith(f"{top}backward.")][:1]
    return [forward, *backward]
