"""Recurrent cells: one time step each, `step(x, state) -> (y, state)`."""

from __future__ import annotations

from .base import Cell as Cell
from .base import State as State
from .elman import ElmanCell as ElmanCell
from .gru import GRUCell as GRUCell
from .init import INITIALIZERS as INITIALIZERS
from .layernorm import LayerNormGRUCell as LayerNormGRUCell
from .layernorm import LayerNormLSTMCell as LayerNormLSTMCell
from .lstm import LSTMCell as LSTMCell
from .mingru import MinGRUCell as MinGRUCell
from .reservoir import ReservoirCell as ReservoirCell

CELLS: dict[str, type[Cell]] = {
    "elman": ElmanCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "mingru": MinGRUCell,
    "layernorm_lstm": LayerNormLSTMCell,
    "layernorm_gru": LayerNormGRUCell,
    "reservoir": ReservoirCell,
}

__all__ = ["CELLS", "INITIALIZERS", "Cell", "ElmanCell", "GRUCell", "LSTMCell", "LayerNormGRUCell",
           "LayerNormLSTMCell", "MinGRUCell", "ReservoirCell", "State"]
