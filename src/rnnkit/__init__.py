"""rnnkit: recurrent neural networks on PyTorch.

    cell = LSTMCell(32, 64)                     # one time step: step(x, state) -> (y, state)
    y, state = Recurrent(cell)(x, lengths=n)    # any cell over (B, T, I) sequences
"""

from __future__ import annotations

from . import tasks as tasks
from .cells import CELLS as CELLS
from .cells import INITIALIZERS as INITIALIZERS
from .cells import Cell as Cell
from .cells import ElmanCell as ElmanCell
from .cells import GRUCell as GRUCell
from .cells import LayerNormGRUCell as LayerNormGRUCell
from .cells import LayerNormLSTMCell as LayerNormLSTMCell
from .cells import LSTMCell as LSTMCell
from .cells import MinGRUCell as MinGRUCell
from .cells import ReservoirCell as ReservoirCell
from .cells import State as State
from .config import RunConfig as RunConfig
from .layers import AdditiveAttention as AdditiveAttention
from .layers import AttentionPooling as AttentionPooling
from .layers import Bidirectional as Bidirectional
from .layers import DropConnect as DropConnect
from .layers import LockedDropout as LockedDropout
from .layers import MultiplicativeAttention as MultiplicativeAttention
from .layers import Readout as Readout
from .layers import Recurrent as Recurrent
from .layers import RecurrentDropout as RecurrentDropout
from .layers import Stacked as Stacked
from .layers import Zoneout as Zoneout
from .layers import weight_drop as weight_drop
from .models.classifier import SequenceClassifier as SequenceClassifier
from .models.esn import EchoStateClassifier as EchoStateClassifier
from .models.esn import EchoStateNetwork as EchoStateNetwork
from .models.seq2seq import Seq2Seq as Seq2Seq
from .runs import SavedRun as SavedRun
from .runs import load as load
from .runs import load_config as load_config
from .runs import run as run
from .train import evaluate as evaluate
from .train import fit as fit

__version__ = "0.1.0"

__all__ = ["CELLS", "INITIALIZERS", "AdditiveAttention", "AttentionPooling", "Bidirectional", "SequenceClassifier",
           "Cell", "DropConnect", "EchoStateClassifier",
           "EchoStateNetwork", "ElmanCell", "GRUCell",
           "LSTMCell", "LayerNormGRUCell", "LayerNormLSTMCell", "LockedDropout", "MinGRUCell", "Readout",
           "MultiplicativeAttention", "ReservoirCell", "Seq2Seq",
           "Recurrent", "RecurrentDropout", "Stacked", "State", "Zoneout", "weight_drop",
           "RunConfig", "SavedRun", "evaluate", "fit", "load", "load_config", "run"]
