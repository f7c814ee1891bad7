"""Decoding: beam width 1 is greedy; beam search finds the best path that greedy misses on a
hand-built model; length normalisation; the max-length guard."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnkit.config import ModelConfig
from rnnkit.models.decode import beam_search, greedy, length_penalty
from rnnkit.models.seq2seq import Memory
from rnnkit.tasks.translation.task import build_seq2seq

A, B, C, BOS, EOS = range(5)


class Table(nn.Module):
    """A 'model' whose next-token distribution depends only on the previous token:
    after bos A 0.6, B 0.4; after A eos 0.4, B 0.3, C 0.3; after B eos 0.9, A 0.05, C 0.05.
    Greedy takes A then eos (0.24); the best path is B then eos (0.36)."""

    bos, eos = BOS, EOS

    def __init__(self, table: dict[int, dict[int, float]]) -> None:
        super().__init__()
        probs = torch.full((5, 5), 1e-9)
        for prev, row in table.items():
            for nxt, p in row.items():
                probs[prev, nxt] = p
        self.register_buffer("logits", probs.log())

    def encode(self, source: Tensor, lengths: Tensor) -> tuple[Memory, Tensor]:
        return Memory(source.new_zeros(*source.shape, 1).float(), lengths), source.new_zeros(source.size(0), 1)

    def decode_step(self, token: Tensor, state: Tensor, memory: Memory) -> tuple[Tensor, Tensor, Tensor]:
        return self.logits[token], state, memory.keys.new_zeros(memory.keys.shape[:2])


TRAP = {BOS: {A: 0.6, B: 0.4}, A: {EOS: 0.4, B: 0.3, C: 0.3}, B: {EOS: 0.9, A: 0.05, C: 0.05},
        C: {EOS: 1.0}, EOS: {EOS: 1.0}}


def test_beam_finds_the_best_path_that_greedy_misses():
    model, source, lengths = Table(TRAP), torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 2])
    g = greedy(model, source, lengths, max_length=10)
    b = beam_search(model, source, lengths, beam=2, max_length=10, alpha=0.0)
    assert g.tokens == [[A], [A]] and b.tokens == [[B], [B]]
    assert math.isclose(g.scores[0], math.log(0.24), rel_tol=1e-5)
    assert math.isclose(b.scores[0], math.log(0.36), rel_tol=1e-5)
    assert b.finished == [True, True] and b.weights[1].shape == (2, 2)


def test_length_normalisation_prefers_the_longer_hypothesis_when_it_is_close():
    table = {BOS: {A: 0.5, B: 0.5}, A: {EOS: 1.0}, B: {C: 0.99, EOS: 0.01}, C: {EOS: 0.99, C: 0.01},
             EOS: {EOS: 1.0}}                      # A eos: 0.5 (2 tokens); B C eos: 0.49 (3 tokens)
    model, source, lengths = Table(table), torch.zeros(1, 2, dtype=torch.long), torch.tensor([2])
    assert beam_search(model, source, lengths, beam=3, alpha=0.0).tokens == [[A]]
    assert beam_search(model, source, lengths, beam=3, alpha=1.0).tokens == [[B, C]]
    assert float(length_penalty(torch.tensor(1), 1.0)) == 1.0


def test_max_length_guards_a_model_that_never_ends():
    model = Table({BOS: {A: 1.0}, A: {A: 1.0}})
    source, lengths = torch.zeros(1, 2, dtype=torch.long), torch.tensor([2])
    for out in (greedy(model, source, lengths, max_length=7), beam_search(model, source, lengths, beam=3,
                                                                         max_length=7)):
        assert out.tokens == [[A] * 7] and out.finished == [False]


def test_beam_width_one_equals_greedy_on_a_trained_shape_model():
    torch.manual_seed(3)
    cfg = ModelConfig(cell="lstm", hidden_size=8, num_layers=2, bidirectional=True)
    model = build_seq2seq(cfg, 12, 10, embedding_size=6, attention="additive", input_feeding=True).eval()
    with torch.no_grad():
        model.decoder.output.bias[model.eos] += 1.5          # let some sentences end early
    source, lengths = torch.randint(0, 12, (5, 7)), torch.tensor([7, 3, 5, 1, 6])
    g = greedy(model, source, lengths, max_length=12)
    b = beam_search(model, source, lengths, beam=1, max_length=12, alpha=0.0)
    assert g.tokens == b.tokens and g.finished == b.finished
    torch.testing.assert_close(torch.tensor(g.scores), torch.tensor(b.scores))
    for gw, bw in zip(g.weights, b.weights):
        torch.testing.assert_close(gw, bw)
    wide = beam_search(model, source, lengths, beam=4, max_length=12, alpha=0.0)
    assert all(w >= s - 1e-5 for w, s, done in zip(wide.scores, g.scores, wide.finished) if done)
