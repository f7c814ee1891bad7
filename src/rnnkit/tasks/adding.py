"""The adding problem (Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015).

Each step carries two numbers: a value drawn from U(0, 1) and a marker that is 1 at exactly
two steps (one in each half of the sequence) and 0 elsewhere. The target is the sum of the two
marked values. Predicting 1 for every sequence scores MSE 1/6 ≈ 0.167 (the variance of a sum
of two U(0, 1)); a network that solves the task goes well below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from ..data.batch import Batch, Splits
from ..models import SequenceModel
from ..models.stack import build_rnn
from .base import Meta, Metrics


@dataclass(frozen=True)
class Adding:
    length: int = 50                # T, the number of steps per sequence
    min_length: int = 0             # > 0: lengths drawn from [min_length, length], padded
    train_size: int = 2000          # sequences in the training split
    valid_size: int = 500           # ... in the validation split
    test_size: int = 500            # ... in the test split
    seed: int = 0                   # the data's own seed: the same data whatever the run's seed

    carries_state = False

    def __post_init__(self) -> None:
        if self.length < 2:
            raise ValueError(f"task.length must be >= 2, got {self.length}")
        if not 0 <= self.min_length <= self.length or self.min_length == 1:
            raise ValueError(f"task.min_length must be 0 (fixed length) or in [2, length], got {self.min_length}")
        if min(self.train_size, self.valid_size, self.test_size) < 1:
            raise ValueError("task.train_size, valid_size and test_size must be >= 1")

    def load(self) -> Splits:
        generator = torch.Generator().manual_seed(self.seed)
        make = lambda n: generate(n, self.length, min_length=self.min_length, generator=generator)
        ids = {"seed": self.seed, "train": self.train_size, "valid": self.valid_size, "test": self.test_size}
        return Splits(make(self.train_size), make(self.valid_size), make(self.test_size), ids=ids)

    def baselines(self, data: Splits, splits: Sequence[str]) -> dict[str, dict[str, Metrics]]:
        """The answers that read no marker: always 1 (the expected sum, MSE 1/6) and the
        training targets' mean."""
        mean = data.train.targets.mean().item()

        def rows(targets: Tensor) -> dict[str, Metrics]:
            mse = lambda guess: F.mse_loss(torch.full_like(targets, guess), targets).item()  # noqa: E731
            return {"always_1": {"mse": mse(1.0)}, "train_mean": {"mse": mse(mean)}}

        return {split: rows(getattr(data, split).targets) for split in splits}

    def describe(self, data: Splits) -> Meta:
        return {}                                   # the model's sizes are all in the config

    def build_model(self, cfg: ModelConfig, meta: Meta) -> nn.Module:
        return SequenceModel(build_rnn(cfg, 2), 1, input_dropout=cfg.input_dropout,
                             output_dropout=cfg.output_dropout)

    def predictor(self, model: nn.Module, meta: Meta) -> AddingPredictor:
        return AddingPredictor(model)

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]:
        y, state = model(batch.inputs, state, batch.lengths)                     # (B, 1)
        return F.mse_loss(y.squeeze(1).float(), batch.targets), state

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics:
        total, count = 0.0, 0
        for batch in batches:
            y, _ = model(batch.inputs, None, batch.lengths)
            total += F.mse_loss(y.squeeze(1).float(), batch.targets, reduction="sum").item()
            count += len(batch)
        return {"mse": total / count}


class AddingPredictor:
    """The predicted sum of each sequence's two marked values."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def predict(self, inputs: Tensor | Sequence[Tensor]) -> Tensor:
        """inputs: (B, T, 2) (value, marker) steps, or a list of (T_i, 2) sequences of any lengths
        -> (B,) predicted sums."""
        if isinstance(inputs, Tensor):
            x, lengths = inputs, None
        else:
            lengths = torch.tensor([len(s) for s in inputs])
            x = nn.utils.rnn.pad_sequence(list(inputs), batch_first=True)                 # (B, T, 2)
        if x.dim() != 3 or x.size(-1) != 2:
            raise ValueError(f"adding inputs are (B, T, 2) steps of (value, marker), got shape {tuple(x.shape)}")
        with torch.no_grad():
            y, _ = self.model(x.to(next(self.model.parameters()).dtype), None, lengths)   # (B, 1)
        return y.squeeze(1)


def generate(n: int, length: int, *, min_length: int = 0, generator: torch.Generator | None = None) -> Batch:
    """n sequences: inputs (n, T, 2) = (value, marker), targets (n,) = sum of the marked values."""
    values = torch.rand(n, length, generator=generator)                          # (n, T)
    if min_length:
        lengths = torch.randint(min_length, length + 1, (n,), generator=generator)
    else:
        lengths = torch.full((n,), length)
    half = lengths // 2
    first = (torch.rand(n, generator=generator) * half).long()                   # in [0, T/2)
    second = half + (torch.rand(n, generator=generator) * (lengths - half)).long()
    rows = torch.arange(n)
    markers = torch.zeros(n, length)
    markers[rows, first] = markers[rows, second] = 1.0
    values = values * (torch.arange(length)[None, :] < lengths[:, None])        # padding is zero
    targets = values[rows, first] + values[rows, second]
    return Batch(torch.stack([values, markers], dim=-1), targets, lengths if min_length else None)
