"""Encoder-decoder RNNs with attention for translation (any cell, stacked, bidirectional encoder).

    memory_t = Encoder(x)_t                                  (B, T, K): K = H, or 2H bidirectional
    s_0 = tanh(W_b [h_T(fw); h_1(bw)])                       the bridge: every decoder layer's state
    Sutskever (no attention):  s_t = RNN(s_{t-1}, e(y_{t-1}));             h~_t = s_t
    Bahdanau (additive):       c_t = Att(memory, s_{t-1});  s_t = RNN(s_{t-1}, [e(y_{t-1}); c_t])
    Luong (dot / general):     s_t = RNN(s_{t-1}, e(y_{t-1}));  c_t = Att(memory, s_t)
    with attention:            h~_t = tanh(W_c [c_t; s_t])   (Luong et al. 2015, eq. 5)
    logits_t = W_out dropout(h~_t) + b                       (W_out = the target embedding when tied)

Sutskever, Vinyals & Le 2014; Bahdanau, Cho & Bengio 2015 (whose maxout deep output is
replaced here by the attentional layer h~); Luong, Pham & Manning 2015. Input feeding (Luong
et al. 2015, section 3.3) adds h~_{t-1} to the decoder input, so earlier alignments inform
the next. Attention never looks at padding: steps past each source length get weight 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.text import Vocab
from ..layers import AdditiveAttention, Bidirectional, LockedDropout, Stacked
from ..layers.scan import time_mask

DecoderState = tuple[tuple, Tensor]     # (the rnn's per-layer states, h~ of the last step (B, H))


@dataclass(frozen=True)
class Memory:
    """The encoded source: keys (B, T, K), lengths (B,), the attention's projected keys."""

    keys: Tensor
    lengths: Tensor
    projected: Tensor | None = None

    def select(self, index: Tensor) -> Memory:
        pick = lambda t: None if t is None else t.index_select(0, index)
        return Memory(pick(self.keys), pick(self.lengths), pick(self.projected))


class Encoder(nn.Module):
    """Source ids (B, T) and lengths -> (memory (B, T, K), summary (B, K) of the final states)."""

    def __init__(self, vocab_size: int, rnn: Stacked, *, embedding_size: int, dropout: float = 0.0) -> None:
        super().__init__()
        if rnn.input_size != embedding_size:
            raise ValueError(f"the encoder rnn expects {rnn.input_size} inputs but embedding_size is {embedding_size}")
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn, self.dropout = rnn, LockedDropout(dropout)

    @property
    def output_size(self) -> int:
        return self.rnn.output_size

    def forward(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        y, state = self.rnn(self.dropout(self.embedding(tokens)), None, lengths)        # (B, T, K)
        top = state[-1]
        if isinstance(self.rnn.layers[-1], Bidirectional):
            summary = torch.cat([top[0][0], top[1][0]], dim=-1)     # forward's last h, backward's first
        else:
            summary = top[0]                                                          # (B, H)
        return y, summary


class Decoder(nn.Module):
    """One target step at a time (`step`), or a whole teacher-forced sequence (`forward`).

    `attention`: None (Sutskever), AdditiveAttention (Bahdanau: queried with the previous
    state, its context is an rnn input) or MultiplicativeAttention (Luong: queried with the new
    state). The rnn must take embedding_size (+ K for additive) (+ H with input_feeding) inputs."""

    def __init__(self, vocab_size: int, rnn: Stacked, *, embedding_size: int, memory_size: int,
                 summary_size: int, attention: nn.Module | None = None, input_feeding: bool = False,
                 tie_weights: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = rnn.output_size
        additive = isinstance(attention, AdditiveAttention)
        expected = embedding_size + memory_size * additive + hidden * input_feeding
        if rnn.input_size != expected:
            raise ValueError(f"the decoder rnn takes {rnn.input_size} inputs, expected {expected} (embedding "
                             f"{embedding_size}{f' + context {memory_size}' * additive}"
                             f"{f' + input feeding {hidden}' * input_feeding})")
        if tie_weights and hidden != embedding_size:
            raise ValueError(f"tie_weights needs the decoder hidden size == embedding_size, got {hidden} != "
                             f"{embedding_size}; set them equal or tie_weights = false")
        self.attention, self.additive, self.input_feeding = attention, additive, input_feeding
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = rnn
        self.sizes = [n for layer in rnn.layers for n in layer.cell.state_size]
        self.bridge = nn.Linear(summary_size, sum(self.sizes))
        self.combine = nn.Linear(memory_size + hidden, hidden) if attention is not None else None
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden, vocab_size)
        if tie_weights:
            self.output.weight = self.embedding.weight       # Press & Wolf 2017; Inan et al. 2017

    @property
    def hidden_size(self) -> int:
        return self.rnn.output_size

    def memory(self, keys: Tensor, lengths: Tensor) -> Memory:
        projected = None if self.attention is None else self.attention.project_keys(keys)
        return Memory(keys, lengths, projected)

    def initial_state(self, summary: Tensor) -> DecoderState:
        parts = iter(torch.tanh(self.bridge(summary)).split(self.sizes, dim=-1))        # (B, n) each
        states = tuple(tuple(next(parts) for _ in layer.cell.state_size) for layer in self.rnn.layers)
        return states, summary.new_zeros(summary.size(0), self.hidden_size)

    def step(self, token: Tensor, state: DecoderState, memory: Memory) -> tuple[Tensor, DecoderState, Tensor]:
        """(B,) previous tokens -> (logits (B, V), next state, attention weights (B, T))."""
        states, feed = state
        parts = [self.embedding(token)]                                                  # (B, E)
        weights = memory.keys.new_zeros(memory.keys.shape[:2])                           # (B, T)
        if self.additive:
            context, weights = self.attention(memory.keys, states[-1][0], memory.lengths,
                                              projected=memory.projected)                # (B, K)
            parts.append(context)
        if self.input_feeding:
            parts.append(feed)
        y, states = self.rnn(torch.cat(parts, dim=-1)[:, None], states)                 # (B, 1, H)
        h = y[:, 0]
        if self.attention is not None:
            if not self.additive:
                context, weights = self.attention(memory.keys, h, memory.lengths, projected=memory.projected)
            h = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))                # h~: (B, H)
        return self.output(self.dropout(h)), (states, h), weights

    def forward(self, inputs: Tensor, state: DecoderState, memory: Memory, *, lengths: Tensor | None = None,
                sampling: float = 0.0) -> tuple[Tensor, Tensor]:
        """Teacher forcing over (B, S) target inputs -> (logits (B, S, V), weights (B, S, T)).
        With `sampling` > 0 each input after the first is, with that probability, the model's
        own previous prediction instead (scheduled sampling; Bengio et al. 2015)."""
        if sampling == 0.0 and not self.additive and not self.input_feeding:
            return self._parallel(inputs, state, memory, lengths)
        logits, weights, token = [], [], inputs[:, 0]
        for t in range(inputs.size(1)):
            if t > 0:
                token = inputs[:, t]
                if sampling > 0:
                    own = logits[-1].detach().argmax(-1)
                    token = torch.where(torch.rand(token.shape, device=token.device) < sampling, own, token)
            step_logits, state, w = self.step(token, state, memory)
            logits.append(step_logits)
            weights.append(w)
        return torch.stack(logits, dim=1), torch.stack(weights, dim=1)

    def _parallel(self, inputs: Tensor, state: DecoderState, memory: Memory,
                  lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        """The fast path when no step needs the previous step's attention: the rnn runs over the
        whole target at once (fused kernels), then every step attends in one batched product."""
        y, _ = self.rnn(self.embedding(inputs), state[0], lengths)                       # (B, S, H)
        if self.attention is None:
            weights = y.new_zeros(y.size(0), y.size(1), memory.keys.size(1))
        else:
            context, weights = self.attention(memory.keys, y, memory.lengths, projected=memory.projected)
            y = torch.tanh(self.combine(torch.cat([context, y], dim=-1)))                # (B, S, H)
        return self.output(self.dropout(y)), weights                                     # (B, S, V)


class Seq2Seq(nn.Module):
    """Encoder + decoder; target ids `bos` and `eos` start and end every target sentence.
    `target_vocab`, if given, turns target ids back into text for evaluation (BLEU, chrF); it is
    not part of the weights (a run keeps it in meta.json)."""

    def __init__(self, encoder: Encoder, decoder: Decoder, *, bos: int, eos: int,
                 target_vocab: Vocab | None = None) -> None:
        super().__init__()
        self.encoder, self.decoder, self.bos, self.eos = encoder, decoder, bos, eos
        self.target_vocab = target_vocab

    @property
    def tied(self) -> bool:
        return self.decoder.output.weight is self.decoder.embedding.weight

    def encode(self, source: Tensor, lengths: Tensor) -> tuple[Memory, DecoderState]:
        keys, summary = self.encoder(source, lengths)
        keys = keys * time_mask(lengths.to(keys.device), keys.size(1))[:, :, None].to(keys.dtype)
        return self.decoder.memory(keys, lengths.to(keys.device)), self.decoder.initial_state(summary)

    def decode_step(self, token: Tensor, state: DecoderState, memory: Memory) -> tuple[Tensor, DecoderState, Tensor]:
        return self.decoder.step(token, state, memory)

    def forward(self, source: Tensor, lengths: Tensor, inputs: Tensor, *, target_lengths: Tensor | None = None,
                sampling: float = 0.0) -> tuple[Tensor, Tensor]:
        """source (B, T), lengths (B,), target inputs (B, S) starting with bos -> (logits (B, S, V),
        attention weights (B, S, T); all zero without attention)."""
        memory, state = self.encode(source, lengths)
        return self.decoder(inputs, state, memory, lengths=target_lengths, sampling=sampling)


def sequence_loss(logits: Tensor, targets: Tensor, lengths: Tensor, *, label_smoothing: float = 0.0,
                  reduction: str = "mean") -> Tensor:
    """Cross-entropy of (B, S, V) logits against (B, S) targets over each target's first
    lengths[b] steps (label smoothing: Szegedy et al. 2016)."""
    mask = time_mask(lengths.to(targets.device), targets.size(1))                        # (B, S)
    return F.cross_entropy(logits[mask].float(), targets[mask], label_smoothing=label_smoothing,
                           reduction=reduction)
