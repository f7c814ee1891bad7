"""Hand-written backpropagation through time for the loops torch has no fused kernel for."""

from __future__ import annotations

from torch import Tensor

from ..cells.base import Cell, State


def fused_loop(cell: Cell, x: Tensor, state: State, *, mask: Tensor | None = None,
               h_mask: Tensor | None = None,
               zoneout: tuple[Tensor | float, ...] | None = None) -> tuple[Tensor, State] | None:
    """Runs `cell` over x with the hand-written BPTT loop, or returns None when there is none
    for this cell (the caller then runs its reference loop)."""
    return None


__all__ = ["fused_loop"]
