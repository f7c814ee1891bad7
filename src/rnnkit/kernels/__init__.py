"""Hand-written loops over time, below the cells: the package imports nothing of `rnnkit.cells` or
`rnnkit.layers`, and the cells import it.

Hand-written backpropagation through time (BPTT) for the loops torch's fused kernels cannot run:
zoneout, per-sequence recurrent dropout, layer norm and (for the LSTM, whose fused kernel cannot
return each sequence's last valid c) padding need control inside every step. Each loop is a
`torch.autograd.Function` that runs the loop under no graph and walks it back with hand-derived
gradients (perf-notes, conclusion 4). A cell names its loop in its `bptt_kernel` class attribute
and `bptt_loop` runs it. Beside them: the linear recurrence of minGRU (`linear_scan`) and the
echo state network's no-gradient state loops (`reservoir`).

On the CPU the same loops also exist compiled with numba (`*_native.py`: one BLAS GEMM and one
fused pass over the step's elements per step, nothing allocated inside the loop), which run by
default; `backend` chooses between them and the readable torch loops, which the tests hold them
equal to (RNNKIT_KERNELS=python runs the latter). Zoneout's masks come from `draws` (a
counter-based generator, the same draws under both backends).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from ._common import State as State
from ._numba_cache import clear_if_stale
from .draws import bernoulli as bernoulli
from .elman import ElmanLoop as ElmanLoop
from .elman import elman_loop as elman_loop
from .elman import native_elman as native_elman
from .gru import GRULoop as GRULoop
from .gru import gru_loop as gru_loop
from .gru import layernorm_gru_loop as layernorm_gru_loop
from .gru import native_gru as native_gru
from .lstm import LSTMLoop as LSTMLoop
from .lstm import layernorm_lstm_loop as layernorm_lstm_loop
from .lstm import lstm_loop as lstm_loop

clear_if_stale()        # before any compiled loop is first called (numba reads its cache then)

# kernel(cell, x, state, mask, h_mask, zoneout) -> (y, final state); see `bptt_loop` for the arguments
BPTTKernel = Callable[[Any, Tensor, State, Tensor | None, Tensor | None, tuple | None], tuple[Tensor, State]]


def bptt_loop(cell: Any, x: Tensor, state: State, *, mask: Tensor | None = None,
              h_mask: Tensor | None = None,
              zoneout: tuple[Tensor | float, ...] | None = None) -> tuple[Tensor, State] | None:
    """Runs `cell` over x: (B, T, I) with its hand-written BPTT loop, `cell.bptt_kernel`, or
    returns None when it has none (the caller then runs its reference loop). The kernel reads
    the cell's parameters by their torch names; a parametrized cell (`weight_drop`) is a subclass
    and inherits the attribute.

    mask (B, T) bool: valid steps; h_mask (B, H): recurrent dropout mask on h where it enters
    W_hh; zoneout: per state component the weight of the old value, a (B, T, n) tensor of draws
    (bool or float) or a float (see `layers.Zoneout.keep_old`). Nothing is sampled here."""
    kernel: BPTTKernel | None = cell.bptt_kernel
    if kernel is None or x.size(1) == 0:
        return None
    return kernel(cell, x, state, mask, h_mask, zoneout)


__all__ = ["BPTTKernel", "ElmanLoop", "GRULoop", "LSTMLoop", "State", "bernoulli", "bptt_loop", "elman_loop",
           "gru_loop", "layernorm_gru_loop", "layernorm_lstm_loop", "lstm_loop", "native_elman", "native_gru"]
