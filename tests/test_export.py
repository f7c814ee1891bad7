"""Exported graphs (ONNX through onnxruntime, TorchScript through torch.jit.load) compute what the
eager models compute: every cell and regulariser in evaluation mode, stacks, bidirectional layers,
padding, batch sizes and lengths other than the export example's; a streaming graph fed chunk by
chunk (1 step, 7 steps, the rest) gives the whole sequence's outputs and final state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.cells import ElmanCell
from rnnkit.config import ModelConfig
from rnnkit.export import ExportError, graph_of, run_file
from rnnkit.export.writers import example, to_onnx, to_torchscript
from rnnkit.layers import Readout, Recurrent, Stacked
from rnnkit.layers.pooling import POOLINGS
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.language_model import LanguageModel
from rnnkit.models.stack import build_rnn

pytest.importorskip("onnxruntime")

TOL = 1e-5
KINDS = ["onnx", "torchscript"]
STACKS = {                                       # every cell, every evaluation-mode regulariser
    "lstm_zoneout": dict(cell="lstm", num_layers=2, zoneout_h=0.2, zoneout_c=0.1),
    "gru_recurrent_dropout": dict(cell="gru", num_layers=2, recurrent_dropout=0.3, dropout=0.2),
    "elman_weight_drop": dict(cell="elman", weight_drop=0.4),
    "elman_tanh_residual": dict(cell="elman", num_layers=3, residual=True),
    "mingru": dict(cell="mingru", num_layers=2),
    "layernorm_lstm": dict(cell="lstm", layer_norm=True),
    "layernorm_gru": dict(cell="gru", layer_norm=True, zoneout_h=0.1),
    "dilated_gru": dict(cell="gru", num_layers=3, dilations=(1, 2, 3)),
    "dilated_bidirectional_lstm": dict(cell="lstm", num_layers=2, dilations=(2, 3), bidirectional=True),
}


def export(graph, kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"graph.{kind}"
    (to_onnx if kind == "onnx" else to_torchscript)(graph, path, example(graph))
    return path


def padded_tokens(vocab: int, batch: int = 4, steps: int = 11, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([steps, steps - 3, 1, 6][:batch])
    return torch.randint(0, vocab, (batch, steps), generator=g), lengths


def language_model(settings: dict, vocab: int = 13, size: int = 8) -> LanguageModel:
    torch.manual_seed(0)
    cfg = ModelConfig(hidden_size=size, **settings)
    return LanguageModel(vocab, build_rnn(cfg, size), embedding_size=size).eval()


def flat_state(state, batch: int | None = None) -> np.ndarray:
    """An eager stack's nested state in the graph's slot order, side by side: (B, S). A direction's
    components sit together, and a dilated layer's d interleaved rows (B d, n) become (B, d n)."""
    parts = []

    def visit(s):
        if all(isinstance(item, torch.Tensor) for item in s):
            group = torch.cat(list(s), dim=1)
            parts.append(group if batch is None else group.reshape(batch, -1))
        else:
            for item in s:
                visit(item)
    visit(state if isinstance(state, tuple) else (state,))
    return torch.cat(parts, dim=1).detach().numpy()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(STACKS))
def test_language_model_graph_equals_eager_on_padded_batches(name, kind, tmp_path):
    model = language_model(STACKS[name])
    graph = graph_of(model)
    path = export(graph, kind, tmp_path)
    tokens, lengths = padded_tokens(13)
    logits, *state = run_file(path, kind, (tokens, lengths), ["tokens", "lengths"])
    assert logits.shape == (4, 11, 13)
    with torch.no_grad():
        for b in range(4):                       # each row alone, unpadded: what eager computes for it
            n = int(lengths[b])
            want, final = model(tokens[b:b + 1, :n])
            assert np.abs(logits[b, :n] - want[0].numpy()).max() <= TOL
            assert np.abs(np.concatenate(state, 1)[b:b + 1] - flat_state(final, 1)).max() <= TOL


def classifier(pooling: str, *, text: bool, bidirectional: bool = False, size: int = 6) -> SequenceClassifier:
    torch.manual_seed(1)
    cfg = ModelConfig(cell="lstm", hidden_size=size, num_layers=2, bidirectional=bidirectional, zoneout_h=0.1)
    rnn = build_rnn(cfg, 5 if text else 3)
    extra = {"attention_size": 4} if pooling == "attention" else {}
    pool = POOLINGS[pooling](rnn.output_size, bidirectional=bidirectional, **extra)
    stats = {} if text else dict(feature_mean=torch.tensor([0.5, -1.0, 2.0]), feature_std=torch.tensor([2.0, 0.5, 1.0]))
    return SequenceClassifier(rnn, pool, 3, vocab_size=17 if text else 0, embedding_size=5 if text else 0,
                              dropout=0.3, **stats).eval()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pooling,text,bidirectional", [
    ("last", True, False), ("attention", True, True), ("max", False, False), ("mean", False, True),
    ("concat", True, False), ("mean_last", False, False)])
def test_classifier_graph_equals_eager_on_padded_batches(pooling, text, bidirectional, kind, tmp_path):
    model = classifier(pooling, text=text, bidirectional=bidirectional)
    graph = graph_of(model)
    path = export(graph, kind, tmp_path)
    tokens, lengths = padded_tokens(17, batch=4, steps=9, seed=3)
    x = tokens if text else torch.randn(4, 9, 3, generator=torch.Generator().manual_seed(4))
    got = run_file(path, kind, (x, lengths), ["tokens" if text else "features", "lengths"])
    with torch.no_grad():
        logits, weights = model.scores(x, lengths)
        _, state = model(x, None, lengths)
    assert np.abs(got[0] - logits.numpy()).max() <= TOL
    if pooling == "attention":
        assert np.abs(got[1] - weights.numpy()).max() <= TOL
    assert np.abs(np.concatenate(got[1 + (pooling == "attention"):], 1) - flat_state(state)).max() <= TOL


def chunks(steps: int) -> list[tuple[int, int]]:
    """Chunk bounds of sizes 1, 7 and the rest."""
    return [(0, 1), (1, 8), (8, steps)]


def stream(path: Path, kind: str, graph, x, lengths) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The streaming file fed chunk by chunk, its state carried by the caller; outputs per chunk."""
    names = [p.name for p in graph.input_ports()]
    state = [np.zeros((x.size(0), s.stop - s.start), dtype=np.float32) for s in graph.slots]
    outs = []
    for start, stop in chunks(x.size(1)):
        valid = (lengths - start).clamp(0, stop - start)
        got = run_file(path, kind, (x[:, start:stop], valid, *map(torch.from_numpy, state)), names)
        n_out = len(graph.outputs())
        outs.append(got[:n_out])
        state = got[n_out:]
    return outs, state


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["lstm_zoneout", "mingru", "layernorm_gru"])
def test_streaming_language_model_chunk_by_chunk_equals_the_whole_sequence(name, kind, tmp_path):
    model = language_model(STACKS[name])
    graph = graph_of(model, streaming=True)
    assert [p.name for p in graph.input_ports()][:2] == ["tokens", "lengths"]
    assert all(p.name.startswith("state_in.layer") for p in graph.input_ports()[2:])
    path = export(graph, kind, tmp_path)
    tokens, lengths = padded_tokens(13, batch=3, steps=15, seed=5)
    lengths = torch.tensor([15, 9, 1])
    outs, state = stream(path, kind, graph, tokens, lengths)
    logits = np.concatenate([o[0] for o in outs], axis=1)
    with torch.no_grad():
        for b in range(3):
            n = int(lengths[b])
            want, final = model(tokens[b:b + 1, :n])
            assert np.abs(logits[b, :n] - want[0].numpy()).max() <= TOL
            assert np.abs(np.concatenate(state, 1)[b:b + 1] - flat_state(final)).max() <= TOL


@pytest.mark.parametrize("kind", KINDS)
def test_streaming_classifier_gives_the_whole_sequence_logits_after_the_last_chunk(kind, tmp_path):
    model = classifier("last", text=False)
    graph = graph_of(model, streaming=True)
    path = export(graph, kind, tmp_path)
    x = torch.randn(3, 12, 3, generator=torch.Generator().manual_seed(6))
    lengths = torch.tensor([12, 8, 1])
    outs, state = stream(path, kind, graph, x, lengths)
    with torch.no_grad():
        logits, final = model(x, None, lengths)
    assert np.abs(outs[-1][0] - logits.numpy()).max() <= TOL
    assert np.abs(np.concatenate(state, 1) - flat_state(final)).max() <= TOL


def test_elman_relu_with_an_output_layer_exports(tmp_path):
    """The seed's Elman network, y_t = W_ho h_t + b', with ReLU: the readout travels inside the step."""
    torch.manual_seed(2)
    rnn = Stacked([Recurrent(ElmanCell(6, 7, nonlinearity="relu"), readout=Readout(7, 6)),
                   Recurrent(ElmanCell(6, 6))])
    model = LanguageModel(9, rnn, embedding_size=6).eval()
    for kind in KINDS:
        path = export(graph_of(model), kind, tmp_path)
        tokens, lengths = padded_tokens(9, batch=2, steps=5)
        logits = run_file(path, kind, (tokens, lengths), ["tokens", "lengths"])[0]
        with torch.no_grad():
            want, _ = model(tokens[:1])
        assert np.abs(logits[0] - want[0].numpy()).max() <= TOL


def test_what_cannot_be_exported_is_an_error_naming_the_part():
    with pytest.raises(ExportError, match="layer 0 is bidirectional.*no streaming export"):
        graph_of(classifier("last", text=True, bidirectional=True), streaming=True)
    with pytest.raises(ExportError, match="pooling = \"last\".*MeanPooling"):
        graph_of(classifier("mean", text=True), streaming=True)
    dilated = LanguageModel(5, build_rnn(ModelConfig(hidden_size=4, num_layers=2, dilations=(1, 2)), 4),
                            embedding_size=4)
    with pytest.raises(ExportError, match="layer 1 is dilated.*no streaming export"):
        graph_of(dilated, streaming=True)
    with pytest.raises(ExportError, match="Linear has no export"):
        graph_of(torch.nn.Linear(2, 2))
