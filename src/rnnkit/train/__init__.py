"""Training: the gradient loop, truncated BPTT, optimisers and schedules, checkpoints."""

from __future__ import annotations

from collections.abc import Callable

from .checkpoint import CheckpointError as CheckpointError
from .loop import Interrupted as Interrupted
from .loop import NonFiniteError as NonFiniteError
from .loop import evaluate as evaluate
from .loop import fit as fit
from .optim import NTASGD as NTASGD
from .optim import OPTIMIZERS as OPTIMIZERS
from .optim import SCHEDULES as SCHEDULES
from .optim import make_optimizer as make_optimizer
from .optim import make_schedule as make_schedule
from .ridge import fit_ridge as fit_ridge
from .tbptt import detach as detach
from .tbptt import split_time as split_time

# train.method -> how to train
METHODS: dict[str, Callable[..., dict[str, float]]] = {
    "gradient": fit,
    "ridge": fit_ridge,              # closed-form readout of an echo state network
}

__all__ = ["METHODS", "NTASGD", "OPTIMIZERS", "SCHEDULES", "CheckpointError", "Interrupted", "NonFiniteError",
           "detach", "evaluate", "fit", "fit_ridge", "make_optimizer", "make_schedule", "split_time"]
