"""The task contract: data, model construction, loss and metrics, in four methods."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from torch import Tensor, nn

from ..config import ModelConfig
from ..data.batch import Batch, Splits

Metrics = dict[str, float]


class Task(Protocol):
    """A frozen dataclass whose fields are the task's own settings ([task] in a config).

    `carries_state`: True for stream tasks (the state flows from one batch into the next, and
    each split is a (B, T) bundle of parallel streams); False when each batch starts afresh.
    `loss` calls `model(...)` (the loop may hand it a DistributedDataParallel wrapper) and
    returns the mean loss over the batch with the final state. `evaluate` returns metrics,
    the first of which is the default for early stopping."""

    carries_state: bool

    def load(self) -> Splits: ...

    def build_model(self, cfg: ModelConfig, data: Splits) -> nn.Module: ...

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]: ...

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics: ...
