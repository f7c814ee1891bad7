"""Batched greedy and beam-search decoding for encoder-decoder models.

    out = beam_search(model, source, lengths, beam=5, max_length=100, alpha=0.6)
    out.tokens[b]       # the best target ids of sentence b, without bos/eos
    out.weights[b]      # its attention (S_b, T_b), for heat maps
    out.finished[b]     # False when the sentence hit max_length before eos
    out = decode_all(model, [ids_1, ids_2, ...], beam=5)        # any number, batched by length

A model offers `encode(source, lengths) -> (memory, state)`, `decode_step(tokens (N,), state,
memory) -> (logits (N, V), state, weights (N, T))` and the ids `bos`, `eos`; state and memory
are reordered along dim 0 (memory through its `select`). Every sentence of the batch stops at
eos or after `max_length` steps, the guard against a model that never emits eos.

Beam search keeps `beam` hypotheses per sentence, expanded by total log-probability; a
hypothesis that emits eos stays in its slot with its score frozen, and the search ends when
every slot of every sentence has finished or max_length is reached. The winner is chosen by
score / lp(length) with GNMT's length penalty lp = ((5 + |Y|) / 6)^alpha (Wu et al. 2016,
eq. 14); alpha = 0 compares raw log-probabilities, which favour short outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor


class Translator(Protocol):
    """What decoding needs of a model (Seq2Seq has it; so can a hand-built table in a test)."""

    bos: int
    eos: int

    def encode(self, source: Tensor, lengths: Tensor) -> tuple[Any, Any]: ...

    def decode_step(self, token: Tensor, state: Any, memory: Any) -> tuple[Tensor, Any, Tensor]: ...


@dataclass(frozen=True)
class Decoded:
    tokens: list[list[int]]          # per sentence, without bos and eos
    scores: list[float]              # total log-probability (eos included when emitted)
    weights: list[Tensor]            # per sentence (S, T): attention over its source steps
    finished: list[bool]             # reached eos (False: cut by max_length)


@torch.no_grad()
def greedy(model: Translator, source: Tensor, lengths: Tensor, *, max_length: int = 100) -> Decoded:
    """The most likely token at every step, for a batch of source sentences (the plain loop
    that beam search with beam = 1 must reproduce)."""
    if max_length < 1:
        raise ValueError(f"need max_length >= 1, got {max_length}")
    memory, state = model.encode(source, lengths)
    token = torch.full((source.size(0),), model.bos, dtype=torch.long, device=source.device)
    done = torch.zeros(source.size(0), dtype=torch.bool, device=source.device)
    score = torch.zeros(source.size(0), device=source.device)
    picked, attention, alive = [], [], []
    for _ in range(max_length):
        logits, state, weights = model.decode_step(token, state, memory)
        logp = logits.float().log_softmax(-1)                                           # (B, V)
        token = logp.argmax(-1)
        score = score + torch.where(done, 0.0, logp.gather(1, token[:, None])[:, 0])
        picked.append(token)
        attention.append(weights.float())
        alive.append(~done)
        done = done | (token == model.eos)
        if done.all():
            break
    history, weights = torch.stack(picked, 1), torch.stack(attention, 1)                # (B, S), (B, S, T)
    length = torch.stack(alive, 1).sum(1)                                               # steps up to eos
    rows = torch.arange(source.size(0), device=source.device)
    return _collect(history, weights, score, done, length, rows, lengths, model.eos)


@torch.no_grad()
def beam_search(model: Translator, source: Tensor, lengths: Tensor, *, beam: int = 5, max_length: int = 100,
                alpha: float = 0.6) -> Decoded:
    """The best target of each source sentence found by a beam of width `beam` (1 = greedy)."""
    if beam < 1 or max_length < 1 or alpha < 0:
        raise ValueError(f"need beam >= 1, max_length >= 1 and alpha >= 0, got {beam}, {max_length}, {alpha}")
    batch, steps = source.size(0), source.size(1)
    memory, state = model.encode(source, lengths)
    rows = torch.arange(batch, device=source.device).repeat_interleave(beam)        # (B K,) sentence of each row
    memory, state = memory.select(rows), _select(state, rows)
    scores = torch.full((batch, beam), float("-inf"), device=source.device)
    scores[:, 0] = 0.0                                  # one live hypothesis per sentence at the start
    tokens = torch.full((batch * beam,), model.bos, dtype=torch.long, device=source.device)
    history = torch.empty(batch * beam, 0, dtype=torch.long, device=source.device)        # (B K, t)
    attention = torch.empty(batch * beam, 0, steps, device=source.device)                 # (B K, t, T)
    done = torch.zeros(batch * beam, dtype=torch.bool, device=source.device)
    length = torch.zeros(batch * beam, dtype=torch.long, device=source.device)
    for _ in range(max_length):
        logits, state, weights = model.decode_step(tokens, state, memory)
        logp = logits.float().log_softmax(-1)                                           # (B K, V)
        vocab = logp.size(-1)
        logp = torch.where(done[:, None], _frozen(vocab, model.eos, logp.device), logp)
        total = (scores.view(-1, 1) + logp).view(batch, beam * vocab)                   # (B, K V)
        scores, best = total.topk(beam, dim=-1)                                         # (B, K)
        parent = (best // vocab + torch.arange(batch, device=best.device)[:, None] * beam).view(-1)
        tokens = (best % vocab).view(-1)                                                # (B K,)
        was_done = done[parent]
        length = length[parent] + (~was_done).long()
        done = was_done | (tokens == model.eos)
        history = torch.cat([history[parent], tokens[:, None]], dim=1)
        attention = torch.cat([attention[parent], weights.float()[parent][:, None]], dim=1)
        state = _select(state, parent)
        if done.all():
            break
    normalised = scores.view(-1) / length_penalty(length, alpha)                        # (B K,)
    pick = normalised.view(batch, beam).argmax(-1) + torch.arange(batch, device=source.device) * beam
    return _collect(history, attention, scores.view(-1), done, length, pick, lengths, model.eos)


def length_penalty(length: Tensor, alpha: float) -> Tensor:
    """GNMT's lp(Y) = ((5 + |Y|) / 6)^alpha (Wu et al. 2016)."""
    return ((5.0 + length.float()) / 6.0) ** alpha


def _frozen(vocab: int, eos: int, device: torch.device) -> Tensor:
    """Log-probabilities of a finished hypothesis: eos again at no cost, nothing else."""
    row = torch.full((vocab,), float("-inf"), device=device)
    row[eos] = 0.0
    return row


def _collect(history: Tensor, attention: Tensor, scores: Tensor, done: Tensor, length: Tensor, pick: Tensor,
             lengths: Tensor, eos: int) -> Decoded:
    tokens, weights = [], []
    for b, row in enumerate(pick.tolist()):
        n = int(length[row])
        ids = history[row, :n].tolist()
        keep = n - 1 if done[row] and ids and ids[-1] == eos else n        # the eos step's weights stay
        tokens.append(ids[:keep])
        weights.append(attention[row, :n, : int(lengths[b])].cpu())
    return Decoded(tokens, scores[pick].tolist(), weights, done[pick].tolist())


def _select(state, rows: Tensor):
    """A nested tuple of (N, ...) tensors with rows picked along dim 0."""
    if isinstance(state, Tensor):
        return state.index_select(0, rows)
    return tuple(_select(s, rows) for s in state)


def decode(model: Translator, source: Tensor, lengths: Tensor, *, beam: int = 1, alpha: float = 0.6,
           max_length: int = 100) -> Decoded:
    """Greedy decoding for beam = 1 (the plain loop), beam search otherwise."""
    if beam == 1:
        return greedy(model, source, lengths, max_length=max_length)
    return beam_search(model, source, lengths, beam=beam, alpha=alpha, max_length=max_length)


def decode_all(model: Translator, sources: Sequence[Tensor], *, beam: int = 1, alpha: float = 0.6,
               max_length: int = 100, batch_size: int = 64) -> Decoded:
    """Every (T_i,) source sentence decoded, in batches of similar lengths (little padding); the
    results are in the order of `sources`."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    rows: dict[int, tuple[list[int], float, Tensor, bool]] = {}
    for start in range(0, len(order), batch_size):
        picked = order[start:start + batch_size]
        x = torch.nn.utils.rnn.pad_sequence([sources[i] for i in picked], batch_first=True)     # (B, T)
        lengths = torch.tensor([len(sources[i]) for i in picked])
        out = decode(model, x, lengths, beam=beam, alpha=alpha, max_length=max_length)
        for k, i in enumerate(picked):
            rows[i] = (out.tokens[k], out.scores[k], out.weights[k], out.finished[k])
    columns = list(zip(*(rows[i] for i in range(len(sources))))) or [(), (), (), ()]
    return Decoded(*(list(column) for column in columns))
