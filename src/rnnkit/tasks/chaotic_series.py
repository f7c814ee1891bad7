"""Chaotic series with an echo state network: Mackey-Glass prediction (Jaeger 2001; Jaeger & Haas
2004) and NARMA10 system identification (Atiya & Parlos 2000), or your own series from a CSV file
(series_file.py). Trained with `train.method = "ridge"`.

[model] hidden_size and num_layers size the reservoir (num_layers > 1: a deep ESN); the reservoir's
own settings are this task's fields. Metrics: one-step NRMSE after the washout, and for a
one-step-ahead series (Mackey-Glass, a CSV column without input_column) the NRMSE `horizon` steps
into closed-loop runs started every 200 steps (`nrmse_84`). Baselines (series_baselines.py):
persistence and a ridge regression on the last k inputs.

    rnnkit train configs/esn_series.toml --task.series=load.csv --task.column=mw

A saved one-step-ahead run continues a series closed loop (Mackey-Glass in the task's units,
tanh(x - 1); a CSV column in the file's units):

    saved = rnnkit.load("runs/esn_mackey_glass")
    saved.predict(series, steps=84)               # the 84 values after the end of series (T,)
    saved.predict(series, steps=84, warmup=500)   # ... after series[500], reading series[:500] first
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
from .series_baselines import series_baselines
from .series_file import SeriesSplits, load_csv

F64 = torch.float64
GENERATED = ("mackey_glass", "narma10")


@dataclass(frozen=True)
class ChaoticSeries:
    series: str = "mackey_glass"    # mackey_glass (tanh(x - 1), one step ahead), narma10, or your series: a CSV file
    column: str = ""                # CSV: the column to predict ("" = the file's only numeric column)
    input_column: str = ""          # CSV: "" = predict `column` one step ahead; a column = the input driving it
    valid_fraction: float = 0.15    # CSV: the share of steps held out for valid (after the training part) ...
    test_fraction: float = 0.15     # ... and, after it, for test (0 = no test part)
    tau: float = 17.0               # mackey_glass: the delay
    train_steps: int = 20_000       # mackey_glass, narma10: steps drawn for training ...
    valid_steps: int = 4_000        # ... for validation ...
    test_steps: int = 4_000         # ... and for test
    washout: int = 500              # steps whose states train nothing (every split starts from zero;
                                    # a CSV's valid and test parts read the steps before them instead)
    horizon: int = 84               # closed-loop steps for nrmse_<horizon> (one-step-ahead series; 0 = none)
    spectral_radius: float = 1.1    # reservoir: largest |eigenvalue| of W_hh
    leak: float = 1.0               # reservoir: leak rate (1 = no leak)
    density: float = 0.1            # reservoir: share of nonzero recurrent weights
    input_scaling: float = 0.5      # reservoir: scale of W_ih
    bias_scaling: float = 0.2       # reservoir: scale of the bias
    alpha: float = 1e-9             # ridge penalty of the readout
    seed: int = 0                   # the data's own seed (generated series)

    carries_state = True

    def __post_init__(self) -> None:
        if self.washout < 0 or self.horizon < 0:
            raise ValueError(f"task.washout and task.horizon must be >= 0, got {self.washout}, {self.horizon}")
        if self.from_file:
            if self.input_column and self.input_column == self.column:
                raise ValueError(f"task.input_column and task.column are both {self.column!r}: leave input_column "
                                 "empty to predict the column one step ahead")
            if not (0 < self.valid_fraction < 1 and 0 <= self.test_fraction < 1
                    and self.valid_fraction + self.test_fraction < 1):
                raise ValueError("need 0 < task.valid_fraction, 0 <= task.test_fraction and a sum below 1, got "
                                 f"{self.valid_fraction}, {self.test_fraction}")
            return
        if self.column or self.input_column:
            raise ValueError(f"task.column and task.input_column name the columns of a CSV file; task.series is "
                             f"{self.series!r}, which has none")
        if min(self.valid_steps, self.test_steps) <= self.washout + self.horizon + 1:
            raise ValueError(f"task.valid_steps and test_steps must exceed washout + horizon + 1 = "
                             f"{self.washout + self.horizon + 1}")
        if self.train_steps <= self.washout:
            raise ValueError(f"task.train_steps must exceed task.washout ({self.washout})")

    @property
    def from_file(self) -> bool:
        return self.series not in GENERATED

    @property
    def one_step_ahead(self) -> bool:
        """The input is the series itself, so the network can also run closed loop."""
        return self.series == "mackey_glass" or (self.from_file and not self.input_column)

    def load(self) -> SeriesSplits:
        if self.from_file:
            return load_csv(self)
        series = self.draw(self.train_steps + self.valid_steps + self.test_steps, self.seed)
        cut = np.cumsum([0, self.train_steps, self.valid_steps, self.test_steps]).tolist()
        ids = {"series": self.series, "seed": self.seed, **({"tau": self.tau} if self.series == "mackey_glass" else {}),
               "washout": self.washout, **{name: cut[i:i + 2] for i, name in enumerate(("train", "valid", "test"))}}
        return SeriesSplits(*(Batch(series.inputs[:, cut[i]:cut[i + 1]], series.targets[:, cut[i]:cut[i + 1]])
                              for i in range(3)), ids=ids)

    def draw(self, steps: int, seed: int) -> Batch:
        """`steps` steps of the task's series drawn with data seed `seed`: inputs and targets (1, T, 1)."""
        if self.from_file:
            raise ValueError(f"{self.series} is a file: there is no fresh series to draw; use its test split "
                             "(rnnkit generate without --seed)")
        if self.series == "mackey_glass":
            s = np.tanh(mackey_glass(steps + 1, tau=self.tau, discard=1000, seed=seed) - 1.0)
            u, y = s[:-1], s[1:]                                                  # predict one step ahead
        else:
            u, y = narma10(steps, seed=seed)
        as_tensor = lambda a: torch.tensor(a, dtype=F64)[None, :, None]          # (1, T, 1)
        return Batch(as_tensor(u), as_tensor(y))

    def unscaled(self, split: Batch, meta: Meta) -> Tensor:
        """A one-step-ahead split as the series it was cut from, in the file's units (T + 1,): s_0
        and s_1..s_T (what the predictor reads)."""
        series = torch.cat([split.inputs[0, :1, 0], split.targets[0, :, 0]])
        mean, std = meta.get("scale", {}).get("target", (0.0, 1.0))
        return series * std + mean

    def baselines(self, data: Splits, splits: Sequence[str]) -> dict[str, dict[str, Metrics]]:
        """Persistence and a ridge regression on the last k inputs (series_baselines.py)."""
        return {split: series_baselines(self, data, getattr(data, split)) for split in splits}

    def describe(self, data: Splits) -> Meta:
        scale = getattr(data, "scale", None)        # the reservoir's sizes and settings are all in the config
        return {} if scale is None else {"scale": scale}

    def build_model(self, cfg: ModelConfig, meta: Meta) -> EchoStateNetwork:
        reservoir = deep_reservoir(1, cfg.hidden_size, cfg.num_layers, spectral_radius=self.spectral_radius,
                                   leak=self.leak, density=self.density, input_scaling=self.input_scaling,
                                   bias_scaling=self.bias_scaling, dtype=F64)   # drawn from the run's seed
        return EchoStateNetwork(reservoir, 1, input_to_readout=True)

    def predictor(self, model: nn.Module, meta: Meta) -> SeriesPredictor:
        if not isinstance(model, EchoStateNetwork):
            raise TypeError(f"a chaotic_series predictor needs an EchoStateNetwork, got {type(model).__name__}")
        return SeriesPredictor(model, self.series if not self.from_file or self.one_step_ahead else "input_column",
                               scale=meta.get("scale"))

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]:
        raise ValueError("the chaotic_series task trains an echo state network's readout in closed form: "
                         "set train.method = \"ridge\"")

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics:
        errors, targets, closed = [], [], []
        for batch in batches:
            y, _ = model(batch.inputs)                                            # (1, T, 1)
            errors.append((y - batch.targets)[:, self.washout:].flatten())
            targets.append(batch.targets[:, self.washout:].flatten())
            if self.one_step_ahead and self.horizon:
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
        """PNG of a closed-loop run on the validation series against the truth."""
        if not (self.one_step_ahead and self.horizon):
            return
        with torch.no_grad():
            _, prediction, truth = self.closed_loop(model, data.valid)
        name = "Mackey-Glass" if self.series == "mackey_glass" else f"{Path(self.series).name}: {self.column}"
        plot_prediction(prediction, truth, folder / "closed_loop.png", f"{name}, {self.horizon} free-running steps",
                        ylabel="tanh(x - 1)" if self.series == "mackey_glass" else "standardised value")


class SeriesPredictor:
    """Closed-loop continuation of a one-step-ahead series (Mackey-Glass, or a CSV column) by the
    trained echo state network, in the series' own units (a CSV run's scale is in its meta.json)."""

    def __init__(self, model: EchoStateNetwork, series: str, *, scale: dict | None = None) -> None:
        self.model, self.series = model, series
        self.mean, self.std = (scale or {}).get("target", (0.0, 1.0))

    @torch.no_grad()
    def predict(self, series: Tensor | np.ndarray, *, steps: int, warmup: int | None = None) -> Tensor:
        """series: (T,) or (T, 1) values (Mackey-Glass: in the task's units, tanh(x - 1); a CSV
        column: as in the file) -> (steps,) float64 predictions of series[warmup + 1:warmup + 1 +
        steps]. The network reads series[:warmup] teacher-forced, then runs free from
        series[warmup], feeding each prediction back as its next input. `warmup` defaults to T - 1:
        the continuation after the end of the series."""
        if self.series in ("narma10", "input_column"):
            what = "narma10" if self.series == "narma10" else "task.input_column"
            raise ValueError(f"a {what} run maps an external input to an output, so it cannot run closed loop (the "
                             "input is not something it predicts); closed-loop generation needs a one-step-ahead "
                             "run (mackey_glass, or a CSV column without input_column). Use rnnkit eval for its "
                             "one-step error")
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
        s = (s - self.mean) / self.std                                             # the units it was trained in
        _, state = self.model(s[None, :warmup, None])                             # reads (1, warmup, 1)
        future, _ = self.model.generate(steps, state=state, last=s[None, warmup, None])   # (1, steps, 1)
        return future[0, :, 0] * self.std + self.mean


def _split_states(model: EchoStateNetwork, h: Tensor) -> tuple:
    """Concatenated per-layer states (R, sum H) -> the network's state layout."""
    sizes = [layer.cell.hidden_size for layer in model.body.layers]
    parts = tuple((p.contiguous(),) for p in h.split(sizes, dim=1))
    return parts if model.body.stacked else parts[0]
