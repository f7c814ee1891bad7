"""The runner: one module that drives any cell over time, and its compositions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..cells.base import Cell, State
from ._checks import check_input, check_lengths, check_state
from .regularization import LockedDropout, check_probability
from .scan import flip_padded, time_mask


class Readout(nn.Module):
    """The output layer y_t = W_ho h_t + b_ho, applied at every step: (B, T, H) -> (B, T, O)."""

    def __init__(self, hidden_size: int, output_size: int, *, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden_size, output_size, bias=bias)

    def forward(self, h: Tensor) -> Tensor:
        return self.linear(h)


class Recurrent(nn.Module):
    """Runs a cell over (B, T, I) sequences and returns (y, state).

    Padding after `lengths` leaves the state unchanged and yields zeros, so the returned state
    is each sequence's last valid one. `reverse=True` runs each sequence's valid steps from last
    to first (padding stays at the end). An optional `readout` maps every step's h to y.
    """

    def __init__(self, cell: Cell, *, reverse: bool = False, readout: nn.Module | None = None) -> None:
        super().__init__()
        if not isinstance(cell, Cell):
            raise TypeError(f"Recurrent runs an rnnkit Cell, got {type(cell).__name__}")
        self.cell, self.reverse, self.readout = cell, reverse, readout

    @property
    def input_size(self) -> int:
        return self.cell.input_size

    @property
    def output_size(self) -> int:
        return self.readout.linear.out_features if isinstance(self.readout, Readout) else self.cell.output_size

    def forward(self, x: Tensor, state: State | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, State]:
        check_input(x, self.cell)
        if state is None:
            state = self.cell.initial_state(x)
        else:
            check_state(state, self.cell, x)
        mask = None
        if lengths is not None:
            check_lengths(lengths, x)
            mask = time_mask(lengths, x.size(1))                              # (B, T)
        if x.size(1) == 0:                    # fused kernels refuse empty sequences
            return x.new_zeros(x.size(0), 0, self.output_size), state
        if self.reverse:
            x = flip_padded(x, lengths)
        with parametrize.cached():            # weight-level regularisers draw once per sequence
            y, state = self.cell.scan(x, state, mask)                         # (B, T, H)
        if self.reverse:
            y = flip_padded(y, lengths)
        if self.readout is not None:
            y = self.readout(y)                                               # (B, T, H) -> (B, T, O)
            if mask is not None:
                y = y * mask[:, :, None].to(y.dtype)
        return y, state

    def extra_repr(self) -> str:
        return "reverse=True" if self.reverse else ""


Layer = nn.Module  # Recurrent or Bidirectional: (x, state, lengths) -> (y, state)


class Bidirectional(nn.Module):
    """Runs `forward` left to right and `backward` right to left (over each sequence's valid
    steps) and merges their outputs; state = (forward state, backward state)."""

    def __init__(self, forward: Recurrent, backward: Recurrent, *,
                 merge: Callable[[Tensor, Tensor], Tensor] | None = None) -> None:
        super().__init__()
        if forward.reverse or not backward.reverse:
            raise ValueError("Bidirectional needs forward.reverse=False and backward.reverse=True")
        self.forward_layer, self.backward_layer = forward, backward
        self.merge = merge if merge is not None else (lambda a, b: torch.cat([a, b], dim=-1))

    @classmethod
    def of(cls, make_cell: Callable[[], Cell]) -> Bidirectional:
        """Bidirectional.of(lambda: LSTMCell(I, H)): two fresh cells, concatenated outputs."""
        return cls(Recurrent(make_cell()), Recurrent(make_cell(), reverse=True))

    @property
    def input_size(self) -> int:
        return self.forward_layer.input_size

    @property
    def output_size(self) -> int:
        return self.forward_layer.output_size + self.backward_layer.output_size

    def forward(self, x: Tensor, state: tuple[State, State] | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, tuple[State, State]]:
        fw_state, bw_state = (None, None) if state is None else state
        y_fw, fw_state = self.forward_layer(x, fw_state, lengths)
        y_bw, bw_state = self.backward_layer(x, bw_state, lengths)
        return self.merge(y_fw, y_bw), (fw_state, bw_state)                   # (B, T, 2H)


class Stacked(nn.Module):
    """Layers run one after the other, with locked (variational) dropout between them
    (one mask per sequence; Gal & Ghahramani 2016). State is a tuple of per-layer states.
    `residual=True` adds each layer's input to its output from the second layer on (where the
    sizes agree), as in deep translation stacks (Wu et al. 2016) and Smyl's ES-RNN (2020)."""

    def __init__(self, layers: Sequence[Layer], *, dropout: float = 0.0, residual: bool = False) -> None:
        super().__init__()
        if len(layers) == 0:
            raise ValueError("Stacked needs at least one layer")
        for below, above in zip(layers, layers[1:]):
            if below.output_size != above.input_size:
                raise ValueError(f"layer sizes do not chain: a layer outputs {below.output_size} "
                                 f"features but the next expects {above.input_size}")
        if residual and any(layer.input_size != layer.output_size for layer in layers[1:]):
            raise ValueError("residual connections need every layer after the first to output as many "
                             "features as it reads (unidirectional layers of one hidden_size)")
        self.layers = nn.ModuleList(layers)
        self.dropout = LockedDropout(check_probability("Stacked dropout", dropout))
        self.residual = residual

    @property
    def input_size(self) -> int:
        return self.layers[0].input_size

    @property
    def output_size(self) -> int:
        return self.layers[-1].output_size

    def forward(self, x: Tensor, state: tuple | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, tuple]:
        if state is not None and len(state) != len(self.layers):
            raise ValueError(f"expected a state with one entry per layer ({len(self.layers)}), got {len(state)}")
        states = []
        for i, layer in enumerate(self.layers):
            if i > 0:
                x = self.dropout(x)
            y, s = layer(x, None if state is None else state[i], lengths)
            x = x + y if self.residual and i > 0 else y
            states.append(s)
        return x, tuple(states)
