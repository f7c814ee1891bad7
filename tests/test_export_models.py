"""Exported CTC acoustic models, echo state networks and forecasters (every decoder, every
likelihood) compute what the eager models compute, through onnxruntime and TorchScript, on padded
batches of another size than the export example's; their streaming graphs, fed chunk by chunk,
give the whole sequence's outputs and state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.cells import ReservoirCell
from rnnkit.config import ModelConfig
from rnnkit.export import ExportError, graph_of, run_file
from rnnkit.layers import Recurrent, Stacked
from rnnkit.models.ctc import ConvFront, CTCModel, DenseFront
from rnnkit.models.esn import EchoStateClassifier, EchoStateNetwork
from rnnkit.models.esrnn import ESRNN
from rnnkit.models.likelihoods import interval
from rnnkit.models.stack import build_rnn
from rnnkit.tasks.forecasting.decoders import build_forecaster
from test_export import KINDS, TOL, export, flat_state

pytest.importorskip("onnxruntime")


def names(graph) -> list[str]:
    return [p.name for p in graph.input_ports()]


def ctc(conv: bool, bidirectional: bool) -> CTCModel:
    torch.manual_seed(3)
    front = ConvFront(4, 6, kernel=3, stride=2) if conv else DenseFront(4, [6])
    rnn = build_rnn(ModelConfig(cell="gru", hidden_size=5, num_layers=2, bidirectional=bidirectional), 6)
    return CTCModel(front, rnn, 7, input_size=4, feature_mean=torch.full((4,), 0.2),
                    feature_std=torch.full((4,), 1.5)).eval()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("conv,bidirectional", [(False, True), (True, False)])
def test_ctc_graph_equals_eager(conv, bidirectional, kind, tmp_path):
    model = ctc(conv, bidirectional)
    graph = graph_of(model)
    path = export(graph, kind, tmp_path)
    x, lengths = torch.randn(3, 10, 4, generator=torch.Generator().manual_seed(1)), torch.tensor([10, 7, 2])
    log_probs, frames, *state = run_file(path, kind, (x, lengths), names(graph))
    with torch.no_grad():
        want, (_, rnn_state) = model(x, None, lengths)
    assert np.abs(log_probs - want.numpy()).max() <= TOL
    assert frames.tolist() == model.output_lengths(lengths).tolist()
    assert np.abs(np.concatenate(state[conv:], 1) - flat_state(rnn_state)).max() <= TOL


@pytest.mark.parametrize("kind", KINDS)
def test_streaming_ctc_with_a_convolutional_front_carries_its_frames(kind, tmp_path):
    model = ctc(True, False)
    graph = graph_of(model, streaming=True)
    assert names(graph)[:3] == ["features", "lengths", "state_in.front"]
    path = export(graph, kind, tmp_path)
    x = torch.randn(2, 12, 4, generator=torch.Generator().manual_seed(2))
    state = [np.zeros((2, 2, 4), np.float32), *(np.zeros((2, s.stop - s.start), np.float32) for s in graph.slots)]
    outs = []
    for start, stop in [(0, 2), (2, 8), (8, 12)]:              # chunks a multiple of the stride
        got = run_file(path, kind, (x[:, start:stop], torch.full((2,), stop - start), *map(torch.from_numpy, state)),
                       names(graph))
        outs.append(got[0])
        state = got[2:]
    with torch.no_grad():
        want, (_, rnn_state) = model(x)
    assert np.abs(np.concatenate(outs, 1) - want.numpy()).max() <= TOL
    assert np.abs(np.concatenate(state[1:], 1) - flat_state(rnn_state)).max() <= TOL


def reservoir(inputs: int, size: int, seed: int, **options) -> Recurrent:
    return Recurrent(ReservoirCell(inputs, size, spectral_radius=0.9, density=0.3, leak=0.5, seed=seed,
                                   dtype=torch.float32, bias_scaling=0.2, **options))


def random_readout(model) -> None:
    with torch.no_grad():
        model.readout.weight.copy_(torch.randn(model.readout.weight.shape, generator=torch.Generator().manual_seed(9)))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("deep,feedback", [(False, True), (True, False)])
def test_echo_state_network_graph_equals_eager_and_streams(deep, feedback, kind, tmp_path):
    fb = 2 if feedback else 0
    body = Stacked([reservoir(3, 12, 1), reservoir(12, 10, 2)]) if deep else reservoir(3 + fb, 12, 1, feedback_size=fb)
    model = EchoStateNetwork(body, 2, input_to_readout=True).eval()
    random_readout(model)
    g = torch.Generator().manual_seed(5)
    x, y_prev, lengths = torch.randn(3, 9, 3, generator=g), torch.randn(3, 9, 2, generator=g), torch.tensor([9, 4, 1])
    inputs = (x, y_prev) if feedback else (x,)
    graph = graph_of(model)
    out, *state = run_file(export(graph, kind, tmp_path), kind, (*inputs, lengths), names(graph))
    with torch.no_grad():
        want, final = model(x, None, lengths, y_prev if feedback else None)
    assert np.abs(out - want.numpy()).max() <= TOL
    assert np.abs(np.concatenate(state, 1) - flat_state(final)).max() <= TOL
    stream = graph_of(model, streaming=True)                   # a closed loop is this fed one step at a time
    (tmp_path / "s").mkdir()
    path = export(stream, kind, tmp_path / "s")
    carried, outs = [np.zeros((3, s.stop - s.start), np.float32) for s in stream.slots], []
    for start, stop in [(0, 1), (1, 8), (8, 9)]:
        chunk = tuple(t[:, start:stop] for t in inputs)
        got = run_file(path, kind, (*chunk, (lengths - start).clamp(0, stop - start), *map(torch.from_numpy, carried)),
                       names(stream))
        outs.append(got[0])
        carried = got[1:]
    assert np.abs(np.concatenate(outs, 1) - want.numpy()).max() <= TOL


@pytest.mark.parametrize("kind", KINDS)
def test_echo_state_classifier_graph_equals_eager(kind, tmp_path):
    model = EchoStateClassifier(reservoir(3, 15, 4), 3, pool="mean_last", input_to_readout=True,
                                feature_mean=torch.tensor([1.0, 0.0, -1.0]), feature_std=torch.tensor([2.0, 1.0, 0.5]))
    random_readout(model.eval())
    x, lengths = torch.randn(4, 8, 3, generator=torch.Generator().manual_seed(6)), torch.tensor([8, 5, 3, 1])
    graph = graph_of(model)
    logits = run_file(export(graph, kind, tmp_path), kind, (x, lengths), names(graph))[0]
    with torch.no_grad():
        want, _ = model(x, None, lengths)
    assert np.abs(logits - want.numpy()).max() <= TOL
    with pytest.raises(ExportError, match="pools its reservoir states"):
        graph_of(model, streaming=True)


FORECASTERS = [("direct", "gaussian", 0), ("direct", "quantile", 2), ("direct", "student_t", 0),
               ("seq2seq", "gaussian", 2), ("seq2seq", "quantile", 0), ("autoregressive", "gaussian", 2),
               ("autoregressive", "quantile", 0)]


def forecaster(kind: str, output: str, future: int):
    torch.manual_seed(7)
    width = 1 + future if kind == "autoregressive" else 3 + future
    model = build_forecaster(kind, ModelConfig(cell="lstm", hidden_size=6, num_layers=2, zoneout_h=0.1), width,
                             future, 5, output=output, quantiles=(0.1, 0.5, 0.9))
    return model.eval(), width


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("decoder,output,future", FORECASTERS)
def test_forecaster_graph_equals_eager_with_intervals(decoder, output, future, kind, tmp_path):
    model, width = forecaster(decoder, output, future)
    g = torch.Generator().manual_seed(8)
    x, ahead = torch.randn(3, 12, width, generator=g), torch.randn(3, 5, future, generator=g)
    inputs = (x, ahead) if future else (x,)
    graph = graph_of(model, level=0.9)
    got = run_file(export(graph, kind, tmp_path), kind, (*inputs, torch.full((3,), 12)), names(graph))
    with torch.no_grad():
        params = model(*inputs)
    assert np.abs(got[0] - params.numpy()).max() <= TOL
    if output == "student_t":                                 # its quantiles need the t distribution's ppf
        assert [p.name for p in graph.outputs()] == ["params", "point"]
        return
    lower, middle, upper = interval(params, output, 0.9)
    for have, want in zip(got[1:4], (middle, lower, upper)):
        assert np.abs(have - want.numpy()).max() <= TOL


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_streaming_forecaster_forecasts_from_the_state_after_each_chunk(decoder, kind, tmp_path):
    model, width = forecaster(decoder, "gaussian", 0)
    x = torch.randn(2, 12, width, generator=torch.Generator().manual_seed(9))
    graph = graph_of(model, streaming=True)
    path = export(graph, kind, tmp_path)
    state = [np.zeros((2, s.stop - s.start), np.float32) for s in graph.slots]
    for start, stop in [(0, 1), (1, 8), (8, 12)]:
        got = run_file(path, kind, (x[:, start:stop], torch.full((2,), stop - start), *map(torch.from_numpy, state)),
                       names(graph))
        state = got[4:]
    with torch.no_grad():
        params = model(x)
    assert np.abs(got[0] - params.numpy()).max() <= TOL       # the forecast after the last chunk


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("output,season", [("quantile", 4), ("gaussian", 1)])
def test_esrnn_graph_smooths_and_forecasts_like_eager_from_each_history_end(output, season, kind, tmp_path):
    torch.manual_seed(11)
    model = ESRNN(build_rnn(ModelConfig(cell="lstm", hidden_size=6), 5), series=3, input_size=5, horizon=6,
                  season=season, output=output).eval()
    with torch.no_grad():                                   # smoothing parameters away from their zero start
        for p in (model.alpha, model.gamma, model.init_season):
            p.normal_(0, 0.5)
    graph = graph_of(model, level=0.9)
    values, series, lengths = graph.example_inputs(3, 13, seed=4)          # lengths 13, 9, 5; last-value padding
    got = run_file(export(graph, kind, tmp_path), kind, (values, series, lengths), names(graph))
    with torch.no_grad():
        params, log_base = model(values, series)                            # (B, N, K, P), (B, N, K) per origin
    rows, last = torch.arange(3), lengths - 5
    assert np.abs(got[0] - params[rows, last].numpy()).max() <= TOL
    assert np.abs(got[1] - log_base[rows, last].numpy()).max() <= TOL
    bands = interval(params[rows, last], output, 0.9)
    for have, want in zip(got[2:5], (bands[1], bands[0], bands[2])):
        assert np.abs(have - torch.exp(want + log_base[rows, last]).numpy()).max() <= 1e-4
