"""Running cells over time and composing them: runner, stacks, regularisers."""

from __future__ import annotations

from .attention import AdditiveAttention as AdditiveAttention
from .attention import MultiplicativeAttention as MultiplicativeAttention
from .dilated import Dilated as Dilated
from .pooling import FIXED_POOLINGS as FIXED_POOLINGS
from .pooling import POOLINGS as POOLINGS
from .pooling import AttentionPooling as AttentionPooling
from .pooling import LastPooling as LastPooling
from .pooling import MaxPooling as MaxPooling
from .pooling import MeanLastPooling as MeanLastPooling
from .pooling import MeanPooling as MeanPooling
from .recurrent import Bidirectional as Bidirectional
from .recurrent import Readout as Readout
from .recurrent import Recurrent as Recurrent
from .recurrent import Stacked as Stacked
from .regularization import DropConnect as DropConnect
from .regularization import LockedDropout as LockedDropout
from .regularization import RecurrentDropout as RecurrentDropout
from .regularization import Zoneout as Zoneout
from .regularization import weight_drop as weight_drop
from .scan import flip_padded as flip_padded
from .scan import parallel_scan_log as parallel_scan_log
from .scan import time_mask as time_mask

__all__ = ["FIXED_POOLINGS", "POOLINGS", "MeanLastPooling", "AdditiveAttention", "AttentionPooling", "Bidirectional",
           "Dilated", "LastPooling", "MaxPooling", "MeanPooling", "MultiplicativeAttention", "DropConnect",
           "LockedDropout", "Readout", "Recurrent", "RecurrentDropout", "Stacked", "Zoneout", "flip_padded",
           "parallel_scan_log", "time_mask", "weight_drop"]
