"""Hand-written backpropagation through time for the loops torch has no fused kernel for.

Zoneout, per-sequence recurrent dropout, layer norm and (for the LSTM, whose fused kernel cannot
return each sequence's last valid c) padding need control inside every step. Each kernel is a
`torch.autograd.Function` that runs the loop under no graph and walks it back with hand-derived
gradients (perf-notes, conclusion 4); `fused_loop` picks the one for a cell.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor
from torch.nn.utils import parametrize

from ..cells.base import Cell, State
from ..cells.elman import ElmanCell
from ..cells.gru import GRUCell
from ..cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from ..cells.lstm import LSTMCell
from .elman import ElmanLoop as ElmanLoop
from .elman import elman_loop
from .gru import GRULoop as GRULoop
from .gru import gru_loop, layernorm_gru_loop
from .lstm import LSTMLoop as LSTMLoop
from .lstm import layernorm_lstm_loop, lstm_loop

Kernel = Callable[..., "tuple[Tensor, State] | None"]

KERNELS: dict[type[Cell], Kernel] = {
    LSTMCell: lstm_loop,
    LayerNormLSTMCell: layernorm_lstm_loop,
    GRUCell: gru_loop,
    LayerNormGRUCell: layernorm_gru_loop,
    ElmanCell: elman_loop,
}


def fused_loop(cell: Cell, x: Tensor, state: State, *, mask: Tensor | None = None,
               h_mask: Tensor | None = None,
               zoneout: tuple[Tensor | float, ...] | None = None) -> tuple[Tensor, State] | None:
    """Runs `cell` over x: (B, T, I) with the hand-written BPTT loop, or returns None when there
    is none for this cell (the caller then runs its reference loop).

    mask (B, T) bool: valid steps; h_mask (B, H): recurrent dropout mask on h where it enters
    W_hh; zoneout: per state component the weight of the old value, a (B, T, n) tensor of draws
    or a float (see `layers.Zoneout.keep_old`). Nothing is sampled here."""
    # weight_drop swaps the cell's class for a parametrized subclass; the math is the same.
    kernel = KERNELS.get(parametrize.type_before_parametrizations(cell))
    if kernel is None or x.size(1) == 0:
        return None
    return kernel(cell, x, state, mask, h_mask, zoneout)


__all__ = ["KERNELS", "ElmanLoop", "GRULoop", "LSTMLoop", "fused_loop"]
