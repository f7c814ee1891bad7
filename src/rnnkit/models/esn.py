"""Echo state networks: fixed reservoirs, a readout fitted in closed form (Jaeger 2001).

    esn = EchoStateNetwork(Recurrent(ReservoirCell(1, 500, spectral_radius=1.25, leak=0.3)), 1)
    esn.fit(u[:, :-1], u[:, 1:], alpha=1e-6, washout=100)      # teacher-forced, one-step ahead
    y, state = esn(u)                                           # (B, T, 1)
    future, state = esn.generate(84, state=state, last=u[:, -1])   # closed loop
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..cells.reservoir import ReservoirCell
from ..layers.pooling import FIXED_POOLINGS, POOLINGS
from ..layers.recurrent import Recurrent, Stacked
from ..layers.scan import time_mask
from .classifier import add_standardization, standardized
from .ridge import Ridge
from .rls import RLS


def deep_reservoir(input_size: int, hidden_size: int, num_layers: int = 1, **cell: object) -> Recurrent | Stacked:
    """One Recurrent(ReservoirCell) or, for num_layers > 1, a Stacked deep ESN whose layers read
    the previous layer's states; `cell` holds ReservoirCell's settings (spectral_radius, leak...)."""
    sizes = [input_size] + [hidden_size] * (num_layers - 1)
    layers = [Recurrent(ReservoirCell(size, hidden_size, **cell)) for size in sizes]
    return layers[0] if num_layers == 1 else Stacked(layers)


def _reservoir_layers(reservoir: Recurrent | Stacked) -> list[Recurrent]:
    layers = list(reservoir.layers) if isinstance(reservoir, Stacked) else [reservoir]
    for layer in layers:
        if not isinstance(layer, Recurrent) or not isinstance(layer.cell, ReservoirCell) or layer.reverse:
            raise TypeError("an echo state network runs Recurrent(ReservoirCell(...)) layers (forward), or a "
                            f"Stacked of them; got {type(layer).__name__}")
    if any(layer.cell.feedback_size for layer in layers[1:]):
        raise ValueError("only the first reservoir of a deep ESN can take output feedback")
    return layers


class _Reservoirs(nn.Module):
    """Runs one reservoir or a deep stack (Gallicchio et al. 2017) and returns every layer's states
    concatenated, plus the input when `input_to_readout` (Lukoševičius 2012, eq. 3)."""

    def __init__(self, reservoir: Recurrent | Stacked, *, input_to_readout: bool) -> None:
        super().__init__()
        self.reservoir, self.layers = reservoir, _reservoir_layers(reservoir)
        self.stacked, self.input_to_readout = isinstance(reservoir, Stacked), input_to_readout
        first = self.layers[0].cell
        self.feedback_size = first.feedback_size
        self.input_size = first.input_size - first.feedback_size
        self.features = sum(layer.cell.hidden_size for layer in self.layers) + input_to_readout * self.input_size

    def forward(self, x: Tensor, state: tuple | None, lengths: Tensor | None,
                feedback: Tensor | None) -> tuple[Tensor, tuple]:
        if self.feedback_size:
            if feedback is None:
                raise ValueError(f"this reservoir takes {self.feedback_size} fed-back outputs: pass "
                                 "feedback=(B, T, O), the targets shifted one step (teacher forcing)")
            h = torch.cat([x, feedback.to(x)], dim=-1)                       # (B, T, I + O)
        else:
            h = x
        states, outs = [], []
        for i, layer in enumerate(self.layers):
            h, s = layer(h, None if state is None else (state[i] if self.stacked else state), lengths)
            outs.append(h)                                                   # (B, T, H_i)
            states.append(s)
        if self.input_to_readout:
            outs.append(x)
        features = outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)       # one layer: no copy
        return features, (tuple(states) if self.stacked else states[0])


class EchoStateNetwork(nn.Module):
    """Reservoir(s) + linear readout y_t = W_out [x_t; u_t] + b, fitted by ridge regression.

    With output feedback (the first cell's `feedback_size` equals `output_size`), fitting is
    teacher-forced: the reservoir sees the true y_{t-1}. `generate` then runs closed loop, feeding
    each prediction back; without feedback, a one-step predictor (output_size == input_size)
    runs closed loop by feeding its prediction in as the next input.
    """

    def __init__(self, reservoir: Recurrent | Stacked, output_size: int, *, input_to_readout: bool = False,
                 bias: bool = True) -> None:
        super().__init__()
        self.body = _Reservoirs(reservoir, input_to_readout=input_to_readout)
        fb = self.body.feedback_size
        if fb not in (0, output_size):
            raise ValueError(f"the reservoir feeds back {fb} outputs but output_size={output_size}; set the "
                             f"cell's feedback_size to {output_size} or 0")
        self.input_size, self.output_size = self.body.input_size, output_size
        dtype = self.body.layers[0].cell.weight_hh.dtype
        self.readout = nn.Linear(self.body.features, output_size, bias=bias, dtype=dtype)
        nn.init.zeros_(self.readout.weight)
        if bias:
            nn.init.zeros_(self.readout.bias)

    def forward(self, x: Tensor, state: tuple | None = None, lengths: Tensor | None = None,
                feedback: Tensor | None = None) -> tuple[Tensor, tuple]:
        """x: (B, T, I) -> y: (B, T, O), state. `feedback` (B, T, O) is y_{t-1} at each step."""
        features, state = self.body(x, state, lengths, feedback)             # (B, T, F)
        y = self.readout(features.to(self.readout.weight.dtype))             # (B, T, O)
        if lengths is not None:
            y = y * time_mask(lengths, x.size(1))[:, :, None].to(y.dtype)
        return y, state

    @torch.no_grad()
    def accumulate(self, ridge: Ridge, x: Tensor, y: Tensor, *, washout: int = 0, lengths: Tensor | None = None,
                   state: tuple | None = None, feedback_start: Tensor | None = None) -> tuple:
        """Runs the reservoir teacher-forced over x (B, T, I) and adds its states after `washout`
        steps, with targets y (B, T, O), to `ridge`. Returns the final state (to continue a series)."""
        if y.dim() != 3 or y.shape[:2] != x.shape[:2] or y.size(2) != self.output_size:
            raise ValueError(f"targets must be (B, T, {self.output_size}) like the inputs {tuple(x.shape[:2])}, "
                             f"got {tuple(y.shape)}")
        valid = time_mask(lengths, x.size(1)) if lengths is not None else x.new_ones(x.shape[:2], dtype=torch.bool)
        shortest = int(valid.sum(1).min()) if valid.numel() else 0
        if washout >= shortest:
            raise ValueError(f"washout={washout} leaves no training step in a sequence of {shortest} steps; "
                             "use a washout shorter than every sequence (typically 50 to 500)")
        features, state = self.body(x, state, lengths, self._teacher(y, feedback_start))
        if lengths is None:         # the same rows in the same order, as a view for one stream
            ridge.update(features[:, washout:].reshape(-1, features.size(2)), y[:, washout:].reshape(-1, y.size(2)))
            return state
        valid[:, :washout] = False
        ridge.update(features[valid], y[valid])                              # (N, F), (N, O)
        return state

    def fit(self, x: Tensor, y: Tensor, *, alpha: float = 1e-6, washout: int = 0,
            lengths: Tensor | None = None) -> EchoStateNetwork:
        """Teacher-forced fit of the readout on one batch (use `accumulate` for many)."""
        ridge = self.new_ridge(alpha=alpha)
        self.accumulate(ridge, x, y, washout=washout, lengths=lengths)
        return self.set_readout(ridge)

    def new_ridge(self, *, alpha: float = 1e-6) -> Ridge:
        return Ridge(self.body.features, self.output_size, alpha=alpha, bias=self.readout.bias is not None)

    def set_readout(self, ridge: Ridge) -> EchoStateNetwork:
        _copy_solution(self.readout, ridge)
        return self

    @torch.no_grad()
    def fit_online(self, rls: RLS, x: Tensor, y: Tensor, *, washout: int = 0, force: bool = False,
                   state: tuple | None = None) -> tuple[Tensor, tuple]:
        """Online readout training, one step at a time (B = 1): RLS on the teacher-forced run, or
        with `force=True` FORCE learning (Sussillo & Abbott 2009): a feedback reservoir is driven
        by the readout's own output while RLS keeps that output close to y. Returns the outputs
        before each update (B, T, O) and the final state; the readout holds the learned weights."""
        if force and not self.body.feedback_size:
            raise ValueError("force=True needs output feedback: build the cell with feedback_size=output_size")
        outputs, previous = [], y.new_zeros(y.size(0), 1, self.output_size)
        for t in range(x.size(1)):
            feedback = previous if self.body.feedback_size else None
            features, state = self.body(x[:, t:t + 1], state, None, feedback)           # (1, 1, F)
            if t >= washout:
                rls.update(features[0], y[0, t:t + 1])
                self.readout.weight.copy_(rls.weight)
                if rls.bias is not None and self.readout.bias is not None:
                    self.readout.bias.copy_(rls.bias)
            out = self.readout(features.to(self.readout.weight.dtype))                # (1, 1, O)
            outputs.append(out)
            previous = out if force else y[:, t:t + 1]
        return torch.cat(outputs, dim=1), state

    @torch.no_grad()
    def generate(self, steps: int, *, state: tuple, last: Tensor, inputs: Tensor | None = None) -> tuple[Tensor, tuple]:
        """Closed loop for `steps` steps from `state`. `last` (B, O) is the last known value of the
        series: y_{t-1} for a feedback reservoir, the next input for a one-step predictor.
        `inputs` (B, steps, I) drive a feedback reservoir that also has external inputs."""
        if not self.body.feedback_size and self.output_size != self.input_size:
            raise ValueError(f"closed-loop generation feeds predictions back: it needs output feedback or "
                             f"output_size == input_size, got {self.output_size} and {self.input_size}")
        if self.body.feedback_size and self.input_size and inputs is None:
            raise ValueError(f"this network also has {self.input_size} external inputs: pass inputs=(B, {steps}, "
                             f"{self.input_size})")
        dtype = self.body.layers[0].cell.weight_hh.dtype
        y, outs = last.to(dtype), []
        empty = y.new_zeros(y.size(0), 1, 0)
        for t in range(steps):
            if self.body.feedback_size:
                x = inputs[:, t:t + 1].to(dtype) if inputs is not None else empty
                y_t, state = self(x, state, feedback=y[:, None])
            else:
                y_t, state = self(y[:, None], state)
            y = y_t[:, 0].to(dtype)                                          # (B, O)
            outs.append(y)
        return torch.stack(outs, dim=1), state                               # (B, steps, O)

    def _teacher(self, y: Tensor, start: Tensor | None) -> Tensor | None:
        if not self.body.feedback_size:
            return None
        first = y.new_zeros(y.size(0), 1, y.size(2)) if start is None else start.reshape(y.size(0), 1, -1).to(y)
        return torch.cat([first, y[:, :-1]], dim=1)                          # y_{t-1}: (B, T, O)


class EchoStateClassifier(nn.Module):
    """Sequence classification from reservoir states (Jaeger et al. 2007; Lukoševičius 2012, 4.5):
    pooled states (mean over valid steps, the last valid state, or both) -> ridge classifier on
    one-hot targets; the class is the largest output. Called like SequenceClassifier
    (`logits, _ = clf(x, lengths=lengths)`), so the classification tasks and CLI take either.
    `feature_mean` and `feature_std` (C,), if given, standardise the inputs first; `differences`
    (layers.Differences), if given, then appends their first differences (the reservoir then
    reads 2C inputs)."""

    def __init__(self, reservoir: Recurrent | Stacked, num_classes: int, *,
                 pool: str = "mean", input_to_readout: bool = False,
                 feature_mean: Tensor | None = None, feature_std: Tensor | None = None,
                 differences: nn.Module | None = None) -> None:
        super().__init__()
        if pool not in FIXED_POOLINGS:
            raise ValueError(f"pool must be one of {list(FIXED_POOLINGS)}, got {pool!r}")
        self.body = _Reservoirs(reservoir, input_to_readout=input_to_readout)
        if self.body.feedback_size:
            raise ValueError("a classifier's reservoir takes no output feedback; set feedback_size=0")
        self.pool, self.num_classes = pool, num_classes
        self.input_size = self.body.input_size // (2 if differences is not None else 1)
        self.pooling = POOLINGS[pool](self.body.features)
        add_standardization(self, feature_mean, feature_std)
        self.differences = differences
        self.readout = nn.Linear(self.pooling.output_size, num_classes,
                                 dtype=self.body.layers[0].cell.weight_hh.dtype)

    def pooled(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """(B, T, I) -> (B, F) pooled reservoir features."""
        with torch.no_grad():
            x = self.inputs(x).to(self.readout.weight.dtype)
            if lengths is not None:                # padding stays zero (it is in the input part)
                x = x * time_mask(lengths, x.size(1))[:, :, None].to(x.dtype)
            features, _ = self.body(x, None, lengths, None)                  # (B, T, F)
        return self.pooling(features, lengths)                               # (B, F) or (B, 2F)

    def inputs(self, x: Tensor) -> Tensor:
        """(B, T, I) standardised [and their first differences: (B, T, 2I)]: what the reservoir reads."""
        x = standardized(self, x)
        return x if self.differences is None else self.differences(x)

    def forward(self, x: Tensor, state: None = None, lengths: Tensor | None = None) -> tuple[Tensor, None]:
        """(B, T, I) -> (logits (B, C), None): every sequence starts from a zero state."""
        return self.readout(self.pooled(x, lengths)), None

    def new_ridge(self, *, alpha: float = 1e-3) -> Ridge:
        return Ridge(self.readout.in_features, self.num_classes, alpha=alpha)

    @torch.no_grad()
    def accumulate(self, ridge: Ridge, x: Tensor, labels: Tensor, *, lengths: Tensor | None = None) -> None:
        """Adds the pooled states of x (B, T, I) with one-hot `labels` (B,) to `ridge`."""
        pooled = self.pooled(x, lengths)
        ridge.update(pooled, F.one_hot(labels, self.num_classes).to(pooled))

    def set_readout(self, ridge: Ridge) -> EchoStateClassifier:
        _copy_solution(self.readout, ridge)
        return self

    def fit(self, x: Tensor, labels: Tensor, *, lengths: Tensor | None = None,
            alpha: float = 1e-3) -> EchoStateClassifier:
        ridge = self.new_ridge(alpha=alpha)
        self.accumulate(ridge, x, labels, lengths=lengths)
        return self.set_readout(ridge)


@torch.no_grad()
def _copy_solution(readout: nn.Linear, ridge: Ridge) -> None:
    weight, bias = ridge.solve()
    readout.weight.copy_(weight)
    if bias is not None:
        readout.bias.copy_(bias)
