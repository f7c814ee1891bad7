"""Chaotic series with an echo state network: Mackey-Glass prediction (Jaeger 2001; Jaeger & Haas
2004) and NARMA10 system identification (Atiya & Parlos 2000). Trained with `train.method = "ridge"`.

[model] hidden_size and num_layers size the reservoir (num_layers > 1: a deep ESN); the reservoir's
own settings are this task's fields. Metrics: one-step NRMSE after the washout, and for
Mackey-Glass the NRMSE `horizon` steps into closed-loop runs started every 200 steps (`nrmse_84`).

A saved Mackey-Glass run continues a series closed loop, in the task's units (tanh(x - 1)):

    saved = rnnkit.load("runs/esn_mackey_glass")
    saved.predict(series, steps=84)               # the 84 values after the end of series (T,)
    saved.predict(series, steps=84, warmup=500)   # ... after series[500], reading series[:500] first
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..config import ModelConfig
from ..data.batch import Batch, Splits
from ..data.chaos import mackey_glass, narma10
from ..models.esn import EchoStateNetwork, deep_reservoir
from ..plots.series import plot_prediction
from .base import Meta, Metrics

F64 = torch.float64


@dataclass(frozen=True)
class ChaoticSeries:
    series: str = "mackey_glass"    # mackey_glass (tanh(x - 1), one step ahead) or narma10
    tau: float = 17.0
    train_steps: int = 20_000
    valid_steps: int = 4_000
    test_steps: int = 4_000
    washout: int = 500              # steps whose states train nothing (every split starts from zero)
    horizon: int = 84               # closed-loop steps for nrmse_84 (Mackey-Glass)
    spectral_radius: float = 1.1
    leak: float = 1.0
    density: float = 0.1
    input_scaling: float = 0.5
    bias_scaling: float = 0.2
    alpha: float = 1e-9             # ridge penalty of the readout
    seed: int = 0                   # the data's own seed

    carries_state = True

    def __post_init__(self) -> None:
        if self.series not in ("mackey_glass", "narma10"):
            raise ValueError(f"task.series must be 'mackey_glass' or 'narma10', got {self.series!r}")
        if min(self.valid_steps, self.test_steps) <= self.washout + self.horizon + 1:
            raise ValueError(f"task.valid_steps and test_steps must exceed washout + horizon + 1 = "
                             f"{self.washout + self.horizon + 1}")
        if self.train_steps <= self.washout:
            raise ValueError(f"task.train_steps must exceed task.washout ({self.washout})")

    def load(self) -> Splits:
        series = self.draw(self.train_steps + self.valid_steps + self.test_steps, self.seed)
        cut = np.cumsum([0, self.train_steps, self.valid_steps, self.test_steps])
        return Splits(*(Batch(series.inputs[:, cut[i]:cut[i + 1]], series.targets[:, cut[i]:cut[i + 1]])
                        for i in range(3)))

    def draw(self, steps: int, seed: int) -> Batch:
        """`steps` steps of the task's series drawn with data seed `seed`: inputs and targets (1, T, 1)."""
        if self.series == "mackey_glass":
            s = np.tanh(mackey_glass(steps + 1, tau=self.tau, discard=1000, seed=seed) - 1.0)
            u, y = s[:-1], s[1:]                                                  # predict one step ahead
        else:
            u, y = narma10(steps, seed=seed)
        as_tensor = lambda a: torch.tensor(a, dtype=F64)[None, :, None]          # (1, T, 1)
        return Batch(as_tensor(u), as_tensor(y))

    def describe(self, data: Splits) -> Meta:
        return {}                                   # the reservoir's sizes and settings are all in the config

    def build_model(self, cfg: ModelConfig, meta: Meta) -> EchoStateNetwork:
        reservoir = deep_reservoir(1, cfg.hidden_size, cfg.num_layers, spectral_radius=self.spectral_radius,
                                   leak=self.leak, density=self.density, input_scaling=self.input_scaling,
                                   bias_scaling=self.bias_scaling, dtype=F64)   # drawn from the run's seed
        return EchoStateNetwork(reservoir, 1, input_to_readout=True)

    def predictor(self, model: nn.Module, meta: Meta) -> SeriesPredictor:
        if not isinstance(model, EchoStateNetwork):
            raise TypeError(f"a chaotic_series predictor needs an EchoStateNetwork, got {type(model).__name__}")
        return SeriesPredictor(model, self.series)

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]:
        raise ValueError("the chaotic_series task trains an echo state network's readout in closed form: "
                         "set train.method = \"ridge\"")

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics:
        errors, targets, closed = [], [], []
        for batch in batches:
            y, _ = model(batch.inputs)                                            # (1, T, 1)
            errors.append((y - batch.targets)[:, self.washout:].flatten())
            targets.append(batch.targets[:, self.washout:].flatten())
            if self.series == "mackey_glass":
                closed.append(self.closed_loop(model, batch)[0])
        error, target = torch.cat(errors), torch.cat(targets)
        metrics = {"nrmse": float(error.pow(2).mean().sqrt() / target.std())}
        if closed:
            metrics[f"nrmse_{self.horizon}"] = float(torch.cat(closed).pow(2).mean().sqrt() / target.std())
        return metrics

    def closed_loop(self, model: EchoStateNetwork, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Errors at step `horizon` of closed-loop runs started every 200 steps after the washout,
        plus the first run's prediction and truth (horizon,) for the plot."""
        features, _ = model.body(batch.inputs, None, None, None)                  # (1, T, F)
        hidden = sum(layer.cell.hidden_size for layer in model.body.layers)
        starts = torch.arange(self.washout, batch.inputs.size(1) - self.horizon, 200)
        states = _split_states(model, features[0, starts, :hidden])
        future, _ = model.generate(self.horizon, state=states, last=batch.targets[0, starts])   # (R, K, 1)
        truth = torch.stack([batch.targets[0, s + 1:s + 1 + self.horizon, 0] for s in starts.tolist()])
        return future[:, -1, 0] - truth[:, -1], future[0, :, 0], truth[0]

    def plot(self, model: nn.Module, data: Splits, folder: Path) -> None:
        """PNG of a closed-loop Mackey-Glass run on the validation series against the truth."""
        if self.series != "mackey_glass":
            return
        with torch.no_grad():
            _, prediction, truth = self.closed_loop(model, data.valid)
        plot_prediction(prediction, truth, folder / "closed_loop.png",
                        f"Mackey-Glass, {self.horizon} free-running steps")


class SeriesPredictor:
    """Closed-loop continuation of a Mackey-Glass series by the trained echo state network."""

    def __init__(self, model: EchoStateNetwork, series: str) -> None:
        self.model, self.series = model, series

    @torch.no_grad()
    def predict(self, series: Tensor | np.ndarray, *, steps: int, warmup: int | None = None) -> Tensor:
        """series: (T,) or (T, 1) values in the task's units (tanh(x - 1)) -> (steps,) float64
        predictions of series[warmup + 1:warmup + 1 + steps]. The network reads series[:warmup]
        teacher-forced, then runs free from series[warmup], feeding each prediction back as its
        next input. `warmup` defaults to T - 1: the continuation after the end of the series."""
        if self.series != "mackey_glass":
            raise ValueError(f"a {self.series} run maps an external input to an output, so it cannot run closed "
                             "loop (the input is not something it predicts); closed-loop generation needs a "
                             "series = 'mackey_glass' run. Use rnnkit eval for its one-step error")
        s = torch.as_tensor(series, dtype=F64)
        if s.dim() == 2 and s.size(1) == 1:
            s = s[:, 0]
        if s.dim() != 1:
            raise ValueError(f"the series must be (T,) or (T, 1) values, got shape {tuple(s.shape)}")
        warmup = len(s) - 1 if warmup is None else warmup
        if warmup < 1 or steps < 1:
            raise ValueError(f"warmup and steps must be >= 1, got {warmup} and {steps}")
        if warmup >= len(s):
            raise ValueError(f"warmup {warmup} needs a series of at least {warmup + 1} values, got {len(s)}")
        _, state = self.model(s[None, :warmup, None])                             # reads (1, warmup, 1)
        future, _ = self.model.generate(steps, state=state, last=s[None, warmup, None])   # (1, steps, 1)
        return future[0, :, 0]


def _split_states(model: EchoStateNetwork, h: Tensor) -> tuple:
    """Concatenated per-layer states (R, sum H) -> the network's state layout."""
    sizes = [layer.cell.hidden_size for layer in model.body.layers]
    parts = tuple((p.contiguous(),) for p in h.split(sizes, dim=1))
    return parts if model.body.stacked else parts[0]
