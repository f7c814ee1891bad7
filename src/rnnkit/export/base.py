"""What every exported graph shares: named ports, the scripted recurrence and its state plumbing.

Every graph takes `lengths` (B,) beside its inputs (the valid steps of each row; in a streaming
graph, of this chunk), and returns the final state as `state_out.*` tensors. A streaming graph also
takes the state as `state_in.*` tensors, so a caller can feed one step or many at a time and keep
the state between calls; a whole-sequence graph starts from zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .recurrence import recurrence


@dataclass(frozen=True)
class Port:
    """A named graph input or output: its dtype ("float32", "int64") and axes (names are dynamic)."""

    name: str
    dtype: str
    axes: tuple[str | int, ...]


class Graph(nn.Module):
    """Base of the task graphs: the recurrence, its state slots and the state plumbing."""

    def __init__(self, stack: nn.Module, input_size: int, *, streaming: bool, dtype: torch.dtype,
                 collect: bool = False) -> None:
        super().__init__()
        self.loop, self.slots = recurrence(stack, input_size, dtype=dtype, streaming=streaming, collect=collect)
        self.streaming, self.dtype = streaming, dtype
        self.vocab = 0                               # token ids run below this (0: float inputs)
        self.width = self.slots[-1].stop if self.slots else 0

    def initial(self, batch_of: Tensor, state: tuple[Tensor, ...]) -> Tensor:
        """The flat (B, S) state: the given state_in tensors side by side, or zeros."""
        if self.streaming:
            return torch.cat(state, dim=1)
        return torch.zeros(batch_of.size(0), self.width, dtype=self.dtype, device=batch_of.device)

    def split(self, state: Tensor) -> tuple[Tensor, ...]:
        return tuple(state[:, s.start:s.stop] for s in self.slots)

    def state_ports(self, direction: str) -> list[Port]:
        return [Port(f"state_{direction}.{s.name}", dtype_name(self.dtype), ("batch", s.stop - s.start))
                for s in self.slots]

    def inputs(self) -> list[Port]:
        raise NotImplementedError

    def outputs(self) -> list[Port]:
        raise NotImplementedError

    def input_ports(self) -> list[Port]:
        return [*self.inputs(), Port("lengths", "int64", ("batch",)),
                *(self.state_ports("in") if self.streaming else [])]

    def output_ports(self) -> list[Port]:
        return [*self.outputs(), *self.state_ports("out")]

    def example_inputs(self, batch: int, steps: int, seed: int) -> tuple[Tensor, ...] | None:
        """Inputs for export and its check when the generic ones (writers.example) do not fit the
        graph (e.g. positive histories); None: the generic ones."""
        return None

    def last(self, y: Tensor, lengths: Tensor) -> Tensor:
        """Each row's output at its last valid step: (B, T, H) -> (B, H)."""
        rows = torch.arange(y.size(0), device=y.device)
        return y[rows, (lengths - 1).clamp_min(0)]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
