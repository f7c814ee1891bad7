"""A seed ensemble of classifiers (the small-data protocol's final models) as one graph: every
member's graph on the same inputs, and log of their mean class probability as the logits, the same
numbers `models.ensemble.ProbabilityEnsemble` returns."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..models.classifier import SequenceClassifier
from ..models.ensemble import ProbabilityEnsemble
from .base import Port, dtype_name
from .errors import ExportError
from .text import ClassifierGraph


class EnsembleGraph(nn.Module):
    """tokens (B, T) or features (B, T, I), lengths -> logits (B, C) = log mean_m softmax(logits_m).
    Whole sequences only: streaming would carry every member's state (not done)."""

    def __init__(self, model: ProbabilityEnsemble, *, streaming: bool, dtype: torch.dtype) -> None:
        super().__init__()
        if streaming:
            raise ExportError(f"a seed ensemble of {len(model.members)} classifiers exports whole sequences only: "
                              "export it without --streaming")
        if not all(isinstance(m, SequenceClassifier) for m in model.members):
            kinds = sorted({type(m).__name__ for m in model.members})
            raise ExportError(f"an ensemble of {', '.join(kinds)} has no export yet")
        self.members = nn.ModuleList(ClassifierGraph(m, streaming=False, dtype=dtype) for m in model.members)
        first = self.members[0]
        self.streaming, self.dtype, self.vocab, self.slots = False, dtype, first.vocab, []
        self.num_classes = model.members[0].num_classes

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor]:
        each = [torch.softmax(member(x, lengths)[0], dim=-1) for member in self.members]     # M x (B, C)
        mean = torch.stack(each).mean(0)                                                    # (B, C)
        return (mean.clamp_min(torch.finfo(mean.dtype).tiny).log(),)

    def example_inputs(self, batch: int, steps: int, seed: int) -> None:
        return None

    def input_ports(self) -> list[Port]:
        return [*self.members[0].inputs(), Port("lengths", "int64", ("batch",))]

    def output_ports(self) -> list[Port]:
        return [Port("logits", dtype_name(self.dtype), ("batch", self.num_classes))]
