"""What training needs of a task and a model, as protocols. train sits below tasks, so the task
contract's training half and its optional capabilities are declared here and re-exported by
tasks/base.py; a caller tests an optional capability with isinstance, never probes with hasattr.

    if isinstance(task, PlotsAtEnd):
        task.plot(model, data, run_dir / "plots")
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn

from ..data.batch import Batch, Splits
from ..models.ridge import Ridge

Metrics = dict[str, float]


class TrainedTask(Protocol):
    """The part of the Task contract (tasks/base.py) that the training loops use. `carries_state`:
    the state flows from one batch into the next (each split is a (B, T) bundle of streams)."""

    carries_state: bool

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]: ...

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics: ...


@runtime_checkable
class PlotsAtEnd(Protocol):
    """Optional: a task that draws its own figure (a posteriogram, a closed-loop forecast) into
    RUN_DIR/plots when training ends."""

    def plot(self, model: nn.Module, data: Splits, folder: Path) -> None: ...


@runtime_checkable
class RidgeTrained(Protocol):
    """Optional: a task whose model can be trained in closed form (train.method = "ridge"): an
    echo state network's readout with penalty `alpha`, after `washout` steps of each sequence
    (0 for a classifier, which pools whole sequences)."""

    alpha: float
    washout: int


@runtime_checkable
class RidgeReadout(Protocol):
    """A model whose readout is fitted by ridge regression (models/esn.py): a solver sized for it,
    the training batches' states added to it, then the solution copied into the readout."""

    def new_ridge(self, *, alpha: float = ...) -> Ridge: ...

    def accumulate(self, ridge: Ridge, x: Tensor, y: Tensor, *, lengths: Tensor | None = None) -> Any: ...

    def set_readout(self, ridge: Ridge) -> nn.Module: ...


@runtime_checkable
class ChoosesEncoder(Protocol):
    """A task that can build another encoder than an echo state network (task.encoder), so that a
    ridge run on the wrong one can say which to pick."""

    encoder: str


@runtime_checkable
class LayerGrouped(Protocol):
    """Optional: a model whose parameters fall into layer groups, bottom (input side) to top
    (output side): what discriminative learning rates (optim.layer_decay) and gradual unfreezing
    (train.unfreeze_epochs) act on (Howard & Ruder 2018)."""

    def layer_groups(self) -> list[list[nn.Parameter]]: ...
