"""A recurrent stack as a graph with a loop over time: what an exported model runs.

Each layer's cell step is traced once (its evaluation-mode math exactly as `Cell.step` computes
it: zoneout's expectation, no dropout, no weight drop), and a TorchScript loop drives it over the
time axis, so the graph keeps a dynamic number of steps (an ONNX `Loop`, a TorchScript `prim::Loop`)
instead of the example's length unrolled. Padding after `lengths` carries the state unchanged and
yields zeros, as `Recurrent` does; a reverse layer visits each sequence's valid steps last to first.

All layers' state travels as one (B, S) tensor inside the loop: TorchScript and ONNX need a fixed
signature, and the layers' states differ in count and size. `StateSlot`s name each (B, n) slice.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..cells.base import Cell
from ..layers import Bidirectional, Readout, Recurrent, Stacked
from ..layers.dilated import Dilated
from .errors import ExportError


@dataclass(frozen=True)
class StateSlot:
    """One state component: its name (e.g. "layer0.c", "layer1.backward.h") and columns [start, stop)."""

    name: str
    start: int
    stop: int


class StepGraph(nn.Module):
    """One cell step on a flat state: (x (B, I), s (B, S)) -> (y (B, O), s (B, S)); traced."""

    def __init__(self, cell: Cell, readout: nn.Module | None) -> None:
        super().__init__()
        self.cell, self.readout = cell, readout
        self.sizes = list(cell.state_size)

    def forward(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        y, new = self.cell.step(x, tuple(state.split(self.sizes, dim=1)))
        if self.readout is not None:
            y = self.readout(y)
        return y, torch.cat(new, dim=1)


class LayerLoop(nn.Module):
    """A traced step driven over time; scripted, so the loop stays a loop in the graph."""

    def __init__(self, step: nn.Module, output_size: int, reverse: bool) -> None:
        super().__init__()
        self.step, self.output_size, self.reverse = step, output_size, reverse

    def forward(self, x: Tensor, lengths: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        steps = x.size(1)                                                     # x: (B, T, I)
        ys: list[Tensor] = []
        for i in range(steps):
            t = steps - 1 - i if self.reverse else i
            keep = (lengths > t).unsqueeze(1)                                 # (B, 1)
            y, new = self.step(x[:, t], state)
            state = torch.where(keep, new, state)
            ys.append(torch.where(keep, y, torch.zeros_like(y)))
        if steps == 0:
            return x.new_zeros(x.size(0), 0, self.output_size), state
        y = torch.stack(ys, dim=1)                                            # (B, T, O)
        return (torch.flip(y, [1]) if self.reverse else y), state


class DilatedLoop(nn.Module):
    """A layer loop over the d interleaved subsequences of a dilated layer (layers/dilated.py: step s
    of phase j is time s d + j), run as d B rows; its state (B d, n) travels as (B, d n). Scripted."""

    def __init__(self, loop: nn.Module, dilation: int) -> None:
        super().__init__()
        self.loop, self.dilation = loop, dilation

    def forward(self, x: Tensor, lengths: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        d, batch, steps = self.dilation, x.size(0), x.size(1)
        per = (steps + d - 1) // d                                            # steps per subsequence
        x = torch.cat([x, x.new_zeros(batch, per * d - steps, x.size(2))], dim=1)   # (B, S d, I)
        sub = x.reshape(batch, per, d, x.size(2)).transpose(1, 2).reshape(batch * d, per, x.size(2))
        phase = torch.arange(d, device=x.device)
        sub_lengths = torch.div(lengths[:, None] - phase + d - 1, d, rounding_mode="floor").clamp(min=0)
        y, new = self.loop(sub, sub_lengths.reshape(batch * d), state.reshape(batch * d, -1))   # (B d, S, H)
        y = y.reshape(batch, d, per, y.size(2)).transpose(1, 2).reshape(batch, per * d, y.size(2))
        return y[:, :steps], new.reshape(batch, -1)


class StackLoop(nn.Module):
    """Layers of (one or two) LayerLoops over one flat state; scripted."""

    def __init__(self, layers: list[nn.ModuleList], bounds: list[list[int]], residual: bool, collect: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.bounds = bounds                       # per layer, per direction: [start, stop) columns
        self.residual = residual
        self.collect = collect                     # return every layer's outputs side by side (reservoirs)

    def forward(self, x: Tensor, lengths: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        news: list[Tensor] = []
        every: list[Tensor] = []
        k = 0
        for i, directions in enumerate(self.layers):
            ys: list[Tensor] = []
            for loop in directions:
                start, stop = self.bounds[k][0], self.bounds[k][1]
                y, s = loop(x, lengths, state[:, start:stop])
                ys.append(y)
                news.append(s)
                k += 1
            y = torch.cat(ys, dim=2) if len(ys) > 1 else ys[0]                # (B, T, H or 2H)
            x = x + y if self.residual and i > 0 else y
            every.append(x)
        if self.collect:
            return torch.cat(every, dim=2), torch.cat(news, dim=1)                # (B, T, sum H_i)
        return x, torch.cat(news, dim=1)


def recurrence(stack: nn.Module, input_size: int, *, dtype: torch.dtype = torch.float32,
               streaming: bool = False, collect: bool = False) -> tuple[nn.Module, list[StateSlot]]:
    """The scripted loop of `stack` (a Stacked or Recurrent of rnnkit cells, in eval mode) and
    its state layout; `collect`: the loop returns every layer's outputs concatenated, not the top's.
    Bidirectional and dilated layers have no streaming form (a backward direction reads the
    sequence's end first; a dilated layer's phase is the absolute time): both are ExportErrors.
    A dilated layer's state is one slot per direction, "layer{i}.dilated", (B, d x components)."""
    layers = list(stack.layers) if isinstance(stack, Stacked) else [stack]
    residual = isinstance(stack, Stacked) and stack.residual
    loops, bounds, slots, width, size = [], [], [], 0, input_size
    for i, layer in enumerate(layers):
        dilation = layer.dilation if isinstance(layer, Dilated) else 1
        if isinstance(layer, Dilated):
            if streaming:
                raise ExportError(f"layer {i} is dilated (model.dilations): its steps are interleaved by absolute "
                                  "time, so it has no streaming export; export without --streaming")
            layer = layer.layer
        if isinstance(layer, Bidirectional):
            if streaming:
                raise ExportError(f"layer {i} is bidirectional: its backward direction reads each sequence's "
                                  "last step first, so it has no streaming export; export without --streaming")
            directions = [("", layer.forward_layer), (".backward", layer.backward_layer)]
        elif isinstance(layer, Recurrent):
            directions = [("", layer)]
        else:
            raise ExportError(f"layer {i} is a {type(layer).__name__}, which export does not know")
        pair = []
        for suffix, run in directions:
            loop = _layer_loop(run, size, dtype)
            start = width
            if dilation > 1:
                pair.append(script(DilatedLoop(loop, dilation)))
                width += dilation * sum(run.cell.state_size)
                slots.append(StateSlot(f"layer{i}{suffix}.dilated", start, width))
            else:
                pair.append(loop)
                for name, n in zip(_component_names(run.cell), run.cell.state_size):
                    slots.append(StateSlot(f"layer{i}{suffix}.{name}", width, width + n))
                    width += n
            bounds.append([start, width])
        loops.append(nn.ModuleList(pair))
        size = layer.output_size
    return script(StackLoop(loops, bounds, residual, collect)), slots


def _layer_loop(run: Recurrent, input_size: int, dtype: torch.dtype) -> nn.Module:
    readout = run.readout if isinstance(run.readout, Readout) else None
    step = StepGraph(run.cell, readout).eval()
    example = (torch.zeros(2, input_size, dtype=dtype), torch.zeros(2, sum(run.cell.state_size), dtype=dtype))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)          # see script
        traced = torch.jit.trace(step, example, check_trace=False)
    return script(LayerLoop(traced, run.output_size, run.reverse))


def script(module: Any) -> Any:
    # torch 2.10+ marks TorchScript deprecated in favour of torch.export, which cannot keep a
    # loop over a dynamic number of steps as a loop; it still works, so the note is silenced
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(module)


def _component_names(cell: Cell) -> tuple[str, ...]:
    return ("h", "c")[: len(cell.state_size)] if len(cell.state_size) <= 2 else tuple(
        f"s{k}" for k in range(len(cell.state_size)))
