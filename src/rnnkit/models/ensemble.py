"""A seed ensemble of classifiers: the mean of its members' class probabilities.

Averaging the probabilities of networks trained from different random starts is the simplest
ensemble that reliably helps (Lakshminarayanan et al. 2017, "deep ensembles"); on small training
sets it also removes most of the run-to-run spread of a single network (Fawaz et al. 2019,
"Deep neural network ensembles for time series classification").
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class ProbabilityEnsemble(nn.Module):
    """Members that each map (x, state, lengths) to (logits (B, C), state). The ensemble returns
    log of the members' mean softmax as its logits, so softmax of them is the mean probability,
    argmax the ensemble's class and cross-entropy the ensemble's negative log-likelihood."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor, state: tuple | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, None]:
        probabilities = self.probabilities(x, lengths)                             # (B, C)
        return probabilities.clamp_min(torch.finfo(probabilities.dtype).tiny).log(), None

    def probabilities(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The mean of the members' class probabilities, (B, C)."""
        each = [torch.softmax(member(x, None, lengths)[0].float(), dim=-1) for member in self.members]
        return torch.stack(each).mean(0)                                           # (M, B, C) -> (B, C)
