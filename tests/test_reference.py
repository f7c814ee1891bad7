"""Plain layers equal torch.nn.RNN / LSTM / GRU with copied weights: outputs, final states and
every parameter gradient; unidirectional and bidirectional, 1 and 3 layers, with and without
lengths (against packed sequences)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from conftest import assert_close
from rnnkit import Bidirectional, ElmanCell, GRUCell, LSTMCell, Recurrent, Stacked

KINDS = {
    "rnn_tanh": (lambda i, h: ElmanCell(i, h, nonlinearity="tanh"),
                 lambda i, h, **kw: torch.nn.RNN(i, h, nonlinearity="tanh", **kw)),
    "rnn_relu": (lambda i, h: ElmanCell(i, h, nonlinearity="relu"),
                 lambda i, h, **kw: torch.nn.RNN(i, h, nonlinearity="relu", **kw)),
    "lstm": (LSTMCell, torch.nn.LSTM),
    "gru": (GRUCell, torch.nn.GRU),
}


def build(kind: str, num_layers: int, bidirectional: bool, dtype: torch.dtype, I: int = 3, H: int = 4):
    make_cell, make_ref = KINDS[kind]
    ref = make_ref(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True).to(dtype)
    directions = 2 if bidirectional else 1
    layers, pairs = [], []
    for k in range(num_layers):
        size = I if k == 0 else H * directions
        cells = [make_cell(size, H).to(dtype) for _ in range(directions)]
        for cell, suffix in zip(cells, ["", "_reverse"]):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                ours = getattr(cell, name)
                with torch.no_grad():
                    ours.copy_(getattr(ref, f"{name}_l{k}{suffix}"))
                pairs.append((f"{name}_l{k}{suffix}", ours))
        if bidirectional:
            layers.append(Bidirectional(Recurrent(cells[0]), Recurrent(cells[1], reverse=True)))
        else:
            layers.append(Recurrent(cells[0]))
    return ref, Stacked(layers), pairs


def our_final(state, kind: str, bidirectional: bool) -> list[torch.Tensor]:
    """Our nested state -> torch's (L * D, B, H) h_n (and c_n), layer-major then direction."""
    per_direction = [s for layer in state for s in (layer if bidirectional else (layer,))]
    components = 2 if kind == "lstm" else 1
    return [torch.stack([s[i] for s in per_direction]) for i in range(components)]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_matches_torch(kind: str, num_layers: int, bidirectional: bool, with_lengths: bool) -> None:
    ref, ours, pairs = build(kind, num_layers, bidirectional, torch.float64)
    B, T = 4, 6
    x = torch.randn(B, T, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 5, 1]) if with_lengths else None
    if with_lengths:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y_ref, final_ref = ref(packed)
        y_ref, _ = pad_packed_sequence(y_ref, batch_first=True, total_length=T)
    else:
        y_ref, final_ref = ref(x)
    final_ref = list(final_ref) if kind == "lstm" else [final_ref]
    y, state = ours(x, lengths=lengths)
    final = our_final(state, kind, bidirectional)
    assert_close(y, y_ref)
    assert_close(final, final_ref)

    weights = [torch.randn_like(y)] + [torch.randn_like(f) for f in final]
    loss_ref = sum((a * w).sum() for a, w in zip([y_ref, *final_ref], weights))
    loss = sum((a * w).sum() for a, w in zip([y, *final], weights))
    loss_ref.backward()
    loss.backward()
    for name, param in pairs:
        assert_close(param.grad, getattr(ref, name).grad)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_matches_torch_float32(kind: str) -> None:
    ref, ours, _ = build(kind, 2, True, torch.float32, I=8, H=16)
    x = torch.randn(3, 20, 8)
    y_ref, _ = ref(x)
    y, _ = ours(x)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_initial_state_is_used(kind: str) -> None:
    ref, ours, _ = build(kind, 1, False, torch.float64)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64)
    c0 = torch.randn(1, 2, 4, dtype=torch.float64)
    y_ref, _ = ref(x, (h0, c0) if kind == "lstm" else h0)
    state = (h0[0], c0[0]) if kind == "lstm" else (h0[0],)
    y, _ = ours(x, (state,))
    assert_close(y, y_ref)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_cell_matches_torch_cell(kind: str) -> None:
    """load_state_dict from torch.nn.*Cell works as is and one step agrees."""
    refs = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn_tanh": torch.nn.RNNCell}
    ref = refs[kind](3, 4).double()
    cell = KINDS[kind][0](3, 4).double()
    cell.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, dtype=torch.float64)
    h = torch.randn(2, 4, dtype=torch.float64)
    if kind == "lstm":
        c = torch.randn(2, 4, dtype=torch.float64)
        assert_close(cell.step(x, (h, c))[1], ref(x, (h, c)))
    else:
        assert_close(cell.step(x, (h,))[0], ref(x, h))
