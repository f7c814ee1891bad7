"""Gradual unfreezing (Howard & Ruder 2018, 3.2): fine-tuning a pretrained encoder all at once
can destroy what it learned (catastrophic forgetting) before the new head is any good. So the
top layer group (the new head) trains alone first, and one more group, top down, joins every
`train.unfreeze_epochs` epochs until the whole model trains.

Frozen parameters get no gradient; the optimiser holds them from the start and skips them while
their gradient is None, so unfreezing changes nothing else. Which groups train is a function of
the iteration alone, so a resumed run freezes exactly as the uninterrupted one did.
"""

from __future__ import annotations

from torch import nn

from .protocols import LayerGrouped


class Unfreezing:
    """Sets requires_grad on `model`'s layer groups for each iteration (epochs of `per_epoch`
    iterations); a no-op for a model without layer groups or with unfreeze_epochs = 0."""

    def __init__(self, model: nn.Module, unfreeze_epochs: int, per_epoch: int) -> None:
        grouped = isinstance(model, LayerGrouped) and unfreeze_epochs > 0
        self.groups = model.layer_groups() if grouped else []
        self.every = unfreeze_epochs * max(1, per_epoch)
        self.trainable = -1                 # how many top groups train now (-1: not set yet)

    def groups_at(self, iteration: int) -> int:
        """How many groups, counted from the top, train at `iteration` (0-based)."""
        return min(len(self.groups), 1 + iteration // self.every)

    def __call__(self, iteration: int) -> None:
        if not self.groups:
            return
        count = self.groups_at(iteration)
        if count == self.trainable:
            return
        self.trainable = count
        for k, params in enumerate(self.groups):
            for p in params:
                p.requires_grad_(k >= len(self.groups) - count)
        if count < len(self.groups):
            print(f"gradual unfreezing: the top {count} of {len(self.groups)} layer groups train", flush=True)
        elif iteration:
            print(f"gradual unfreezing: all {len(self.groups)} layer groups train", flush=True)

    def release(self) -> None:
        """Every group trainable again (when training ends, however it ended)."""
        for params in self.groups:
            for p in params:
                p.requires_grad_(True)
