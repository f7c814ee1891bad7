"""Seq2seq models: attention never looks at padding, the fast teacher-forced path equals the
step loop, weight tying, scheduled sampling, every attention kind with every cell."""

from __future__ import annotations

import pytest
import torch

from rnnkit.config import ModelConfig
from rnnkit.layers.attention import MultiplicativeAttention
from rnnkit.models.seq2seq import sequence_loss
from rnnkit.tasks.translation.task import ATTENTIONS, build_seq2seq

KINDS = sorted(ATTENTIONS)


def model(attention: str = "general", *, cell: str = "gru", feed: bool = False, tie: bool = False,
          bidirectional: bool = True, layers: int = 2, hidden: int = 6):
    cfg = ModelConfig(cell=cell, hidden_size=hidden, num_layers=layers, bidirectional=bidirectional)
    return build_seq2seq(cfg, 11, 9, embedding_size=hidden if tie else 5, attention=attention,
                         input_feeding=feed, tie_weights=tie).double().eval()


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "none"])
def test_padding_gets_exactly_zero_weight_and_changes_nothing(kind):
    net = model(kind, feed=True, bidirectional=kind != "dot", hidden=6)
    source = torch.randint(0, 11, (2, 5))
    lengths = torch.tensor([5, 2])
    inputs = torch.randint(0, 9, (2, 4))
    logits, weights = net(source, lengths, inputs)
    assert (weights[1, :, 2:] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, dtype=torch.float64))
    garbage = source.clone()
    garbage[1, 2:] = torch.randint(0, 11, (3,))
    logits_g, weights_g = net(garbage, lengths, inputs)
    torch.testing.assert_close(logits_g, logits)
    torch.testing.assert_close(weights_g, weights)
    alone, w_alone = net(source[1:, :2], lengths[1:], inputs[1:])
    torch.testing.assert_close(alone, logits[1:])
    torch.testing.assert_close(w_alone, weights[1:, :, :2])


@pytest.mark.parametrize("kind", ["none", "dot", "general"])
def test_parallel_teacher_forcing_equals_the_step_loop(kind):
    net = model(kind, bidirectional=kind != "dot", cell="lstm")
    source, lengths = torch.randint(0, 11, (3, 6)), torch.tensor([6, 3, 1])
    inputs = torch.randint(0, 9, (3, 5))
    fast, w_fast = net(source, lengths, inputs)
    memory, state = net.encode(source, lengths)
    steps = []
    for t in range(inputs.size(1)):
        logits, state, w = net.decode_step(inputs[:, t], state, memory)
        steps.append((logits, w))
    torch.testing.assert_close(fast, torch.stack([s[0] for s in steps], 1))
    torch.testing.assert_close(w_fast, torch.stack([s[1] for s in steps], 1))


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru", "mingru"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_cell_and_attention_trains(cell, kind):
    net = model(kind, cell=cell, feed=kind != "none", bidirectional=kind != "dot", layers=1).train()
    source, lengths = torch.randint(0, 11, (2, 4)), torch.tensor([4, 3])
    targets = torch.randint(0, 9, (2, 3))
    logits, _ = net(source, lengths, targets)
    assert logits.shape == (2, 3, 9)
    sequence_loss(logits, targets, torch.tensor([3, 2]), label_smoothing=0.1).backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_tied_weights_share_one_matrix_and_need_equal_sizes():
    net = model("general", tie=True)
    assert net.tied and net.decoder.output.weight is net.decoder.embedding.weight
    with pytest.raises(ValueError, match="tie_weights"):
        build_seq2seq(ModelConfig(hidden_size=6), 11, 9, embedding_size=5, attention="none", tie_weights=True)


def test_dot_attention_needs_equal_sizes():
    with pytest.raises(ValueError, match="general"):
        MultiplicativeAttention(12, 6, general=False)


def test_full_scheduled_sampling_ignores_the_gold_inputs_after_the_first():
    net = model("additive", feed=True)
    source, lengths = torch.randint(0, 11, (2, 4)), torch.tensor([4, 2])
    a = torch.randint(0, 9, (2, 5))
    b = a.clone()
    b[:, 1:] = torch.randint(0, 9, (2, 4))
    torch.testing.assert_close(net(source, lengths, a, sampling=1.0)[0], net(source, lengths, b, sampling=1.0)[0])


def test_sequence_loss_ignores_padding():
    logits = torch.randn(2, 3, 4)
    targets = torch.tensor([[1, 2, 3], [0, 3, 3]])
    full = sequence_loss(logits, targets, torch.tensor([3, 1]))
    changed = targets.clone()
    changed[1, 1:] = 0
    torch.testing.assert_close(sequence_loss(logits, changed, torch.tensor([3, 1])), full)
