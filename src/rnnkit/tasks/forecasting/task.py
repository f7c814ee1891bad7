"""Global time-series forecasting: one recurrent model trained on windows from every series.

Each series is cut at its end: the last `horizon` points are the test part, the `horizon` before
them the validation part (`holdout` = 2; see `load` for 1 and 0), and training windows
(`input_size` points in, `horizon` out) use only the points before the validation part. Values
are scaled per series with statistics of the history before each forecast origin (`scale`); the
encoder also reads calendar features and the table's covariate columns. Metrics during training
are on the scaled values: `mae`, `rmse` and `coverage` of the central `level` interval;
`rnnkit forecast` reports them in the data's units.

Covariates: every extra column of the table is past-only (the encoder reads it over the input
window) unless `future_covariates` names it as known in advance (prices, promotions, holidays);
those and the calendar features are also fed to the model over the horizon (`Batch.future`). At
predict time their horizon values come from a separate table (`rnnkit.data.future.extend`).

Forecasters (`forecaster`): "direct", an encoder and one head for the whole horizon (`Forecaster`);
"seq2seq" and "autoregressive" decoders (`models/forecast_decoders.py`); "esrnn", the ES-RNN hybrid
of Smyl 2020 (`models/esrnn.py`, data and loss in `esrnn.py`), which normalises raw positive
values itself and reads neither covariates nor calendar features.

Combinations (`combine`): at predict time the model's forecast of each series can be combined with
baselines' forecasts from the same origin (the median or mean, `combine_how`; forecast/combine.py).
Training is unchanged; `predict`, `rnnkit forecast predict` and backtests return the combination.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ...config import ModelConfig
from ...data.batch import Batch, Splits
from ...data.series import MISSING, Panel, Scaler, SeriesError, calendar, check_lengths, load_series, windows
from ...forecast.baselines import BASELINES
from ...forecast.combine import HOW
from ...forecast.synthetic import synthetic_panel
from ...models.likelihoods import OUTPUTS, interval, likelihood_loss
from ..base import Meta, Metrics
from .decoders import FORECASTERS, build_forecaster
from .esrnn import build as build_esrnn
from .esrnn import evaluate as evaluate_esrnn
from .esrnn import initial_seasons
from .esrnn import loss as esrnn_loss
from .esrnn import splits as esrnn_splits
from .predictor import ForecastPredictor

SEASONS = {"h": 24, "H": 24, "D": 7, "B": 5, "W": 52, "M": 12, "ME": 12, "MS": 12, "BM": 12, "BME": 12,
           "BMS": 12, "Q": 4, "QE": 4, "QS": 4, "BQ": 4, "BQE": 4, "BQS": 4}


def season_of(freq: str) -> int:
    """The usual seasonal period of a pandas frequency alias: MS -> 12, QS-OCT -> 4, D -> 7; else 1."""
    return SEASONS.get(freq.lstrip("0123456789").split("-")[0], 1)


@dataclass(frozen=True)
class ForecastSplits(Splits):
    panel: Panel | None = None      # the series the splits were cut from: ids, frequency, covariate names


@dataclass(frozen=True)
class Forecasting:
    data: str = "synthetic"         # a CSV or Parquet file (long or single-series format), or "synthetic"
    freq: str = ""                  # pandas offset alias ("MS", "D", "h") or "int"; "" infers it
    missing: str = "error"          # NaN values: error, ffill or interpolate
    input_size: int = 24            # points the encoder reads
    horizon: int = 12               # points forecast at once
    season: int = 0                 # seasonal period (MASE, seasonal naive); 0 = from the frequency
    scale: str = "standard"         # per series: standard, mean, none; or window (each by its input's mean |y|)
    output: str = "gaussian"        # gaussian (mean, scale), student_t (+ learned df) or quantile (pinball)
    level: float = 0.8              # the central prediction interval
    calendar: bool = True           # sin/cos calendar features from the timestamps
    stride: int = 1                 # steps between training windows
    cut: int = 0                    # drop each series' last `cut` points first (backtests)
    holdout: int = 2                # horizons held out at the end: 2 = valid + test, 1 = valid, 0 = none
    future_covariates: tuple[str, ...] = ()   # covariate columns known over the horizon; the rest are past-only
    forecaster: str = "direct"      # direct (one head for the horizon), seq2seq, autoregressive or esrnn
    samples: int = 0                # autoregressive: intervals from this many sample paths (0: point feedback)
    level_penalty: float = 0.0      # esrnn: weight of Smyl's penalty on the level's wiggliness (0 = off)
    weighting: str = "origin"       # esrnn: each origin counts the same in the loss, or each series ("series")
    season_init: str = "flat"       # esrnn: initial seasonal indices, flat or decompose (classical decomposition)
    combine: tuple[str, ...] = ()   # baselines whose forecasts are combined with the model's (e.g. theta, ets)
    combine_how: str = "median"     # median or mean of the model's and those forecasts (forecast/combine.py)

    carries_state = False

    def __post_init__(self) -> None:
        if self.input_size < 1 or self.horizon < 1 or self.stride < 1 or self.cut < 0:
            raise ValueError("task.input_size, horizon and stride must be >= 1 and task.cut >= 0")
        if self.holdout not in (0, 1, 2):
            raise ValueError(f"task.holdout must be 0, 1 or 2, got {self.holdout}")
        if not 0 < self.level < 1:
            raise ValueError(f"task.level must be in (0, 1), got {self.level}")
        if self.samples < 0 or (self.samples and self.forecaster != "autoregressive"):
            raise ValueError("task.samples (>= 0) is for task.forecaster = 'autoregressive'")
        if self.level_penalty < 0 or (self.level_penalty and self.forecaster != "esrnn"):
            raise ValueError("task.level_penalty (>= 0) is for task.forecaster = 'esrnn'")
        if self.future_covariates and self.forecaster == "esrnn":
            raise ValueError("task.forecaster = 'esrnn' reads only the series' values; drop task.future_covariates")
        unknown = sorted(set(self.combine) - set(BASELINES))
        if unknown:
            raise ValueError(f"task.combine names unknown baselines {unknown}; choose from {sorted(BASELINES)}")
        for name, value, choices in (("output", self.output, OUTPUTS), ("missing", self.missing, MISSING),
                                     ("forecaster", self.forecaster, FORECASTERS),
                                     ("combine_how", self.combine_how, HOW),
                                     ("season_init", self.season_init, ("flat", "decompose")),
                                     ("weighting", self.weighting, ("origin", "series")),
                                     ("scale", self.scale, ("standard", "mean", "none", "window"))):
            if value not in choices:
                raise ValueError(f"task.{name} = {value!r} is not known; choose one of {list(choices)}")

    @property
    def quantiles(self) -> tuple[float, float, float]:
        return ((1 - self.level) / 2, 0.5, (1 + self.level) / 2)

    def panel(self) -> Panel:
        """The series as read and checked, with the last `cut` points removed."""
        source: Any = synthetic_panel() if self.data == "synthetic" else self.data
        panel = load_series(source, freq=self.freq or None, missing=self.missing)
        unknown = [n for n in self.future_covariates if n not in panel.covariate_names]
        if unknown:
            raise SeriesError(f"task.future_covariates names {unknown[0]!r}, which is not a column of the data; "
                              f"its covariate columns are {list(panel.covariate_names)}")
        if self.cut:
            check_lengths(panel, self.cut + self.input_size + 2 * self.horizon, "cut + input_size + 2 * horizon")
            keep = lambda items: [a[:-self.cut] for a in items]
            panel = Panel(panel.ids, keep(panel.values), keep(panel.times), panel.freq, keep(panel.covariates),
                          panel.covariate_names)
        return panel

    def period(self, panel: Panel) -> int:
        return self.season or season_of(panel.freq)

    def features(self, panel: Panel, ends: Sequence[int] | None = None) -> list[np.ndarray]:
        """Per series (T, F): calendar features and known-future covariates (the first
        `known_size` columns), then past-only covariates; covariates standardised with the statistics
        of the points before ends[i] (default: all)."""
        future = [panel.covariate_names.index(n) for n in self.future_covariates]
        order = future + [c for c in range(len(panel.covariate_names)) if c not in future]
        out = []
        for i, (times, cov) in enumerate(zip(panel.times, panel.covariates)):
            cal = calendar(times, panel.freq) if self.calendar else np.zeros((len(times), 0))
            cov = cov[:, order]
            seen = cov[:len(cov) if ends is None else ends[i]]
            std = seen.std(0) if len(seen) else np.ones(cov.shape[1])
            cov = (cov - (seen.mean(0) if len(seen) else 0.0)) / np.where(std > 0, std, 1.0)
            out.append(np.concatenate([cal, cov], axis=1))
        return out

    def known_size(self, panel: Panel) -> int:
        """How many leading feature columns are known over the horizon (calendar + future covariates)."""
        cal = calendar(panel.times[0][:1], panel.freq).shape[1] if self.calendar else 0
        return cal + len(self.future_covariates)

    def load(self) -> ForecastSplits:
        """Training windows end before the held-out horizons. With holdout = 0 they use every point
        and the validation split is each series' last window, seen in training (final models)."""
        panel = self.panel()
        L, H = self.input_size, self.horizon
        if self.forecaster == "esrnn":     # forecasting from a cut needs only the input window before it
            check_lengths(panel, L + self.holdout * H, f"input_size + {self.holdout} * horizon")
            split = esrnn_splits(self, panel)
            return ForecastSplits(split.train, split.valid, split.test, panel=panel)
        need = L + max(self.holdout, 1) * H
        check_lengths(panel, need, f"input_size + {max(self.holdout, 1)} * horizon")
        cuts = [len(v) - self.holdout * H for v in panel.values]
        scaled = _scaled(panel.values, cuts, self.scale)
        features, known = self.features(panel, cuts), self.known_size(panel)
        # windows of L + H points: inputs, then the horizon's targets and known-future features
        whole, _, owner = windows(scaled, L + H, 0, cuts, features=features, stride=self.stride)
        x, y, future = whole[:, :L], whole[:, L:, 0], whole[:, L:, 1:1 + known]
        idle = [panel.ids[i] for i in sorted(set(range(len(panel))) - set(owner.tolist()))]
        if idle:
            warnings.warn(f"{len(idle)} series are too short for a training window (input_size + horizon = "
                          f"{L + H} points before the held-out part) and are only forecast: {idle[:5]}", stacklevel=2)
        x, y = self.window_scaled(x, y)
        valid = [c if self.holdout else c - H for c in cuts]
        test = self.held_out(scaled, features, [c + H for c in cuts], known) if self.holdout == 2 else None
        return ForecastSplits(_batch(x, y, future), self.held_out(scaled, features, valid, known), test, panel=panel)

    def held_out(self, scaled: Sequence[np.ndarray], features: Sequence[np.ndarray], origins: Sequence[int],
                 known: int) -> Batch:
        """One window per series whose target starts at its origin."""
        x, future = self.inputs(scaled, features, origins, known)
        y = np.stack([v[o:o + self.horizon] for v, o in zip(scaled, origins)])
        return _batch(*self.window_scaled(x, y), future)

    def inputs(self, scaled: Sequence[np.ndarray], features: Sequence[np.ndarray], origins: Sequence[int],
               known: int) -> tuple[np.ndarray, np.ndarray]:
        """Per series the input window (S, L, 1 + F) before its origin and the known-future
        features (S, K, known) of the horizon after it; no value at or after the origin is read."""
        L, H = self.input_size, self.horizon
        x = np.stack([np.concatenate([v[o - L:o, None], f[o - L:o]], axis=1)
                      for v, f, o in zip(scaled, features, origins)])
        return x, np.stack([f[o:o + H, :known] for f, o in zip(features, origins)])

    def window_scale(self, x: np.ndarray) -> np.ndarray:
        """(N,) divisors of each window (N, L, I): its inputs' mean |value| for scale = "window", else 1."""
        if self.scale != "window":
            return np.ones(len(x))
        level = np.abs(x[..., 0]).mean(axis=1)
        return np.where(level > 0, level, 1.0)

    def window_scaled(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.window_scale(x)
        x = x.copy()
        x[..., 0] /= s[:, None]
        return x, y / s[:, None]

    def describe(self, data: Splits) -> Meta:
        """What a forecast needs besides the history it is given: the frequency and season, the
        series ids (ES-RNN's per-series parameters are indexed by them), the covariate columns,
        the scaling and the model's input sizes; for ES-RNN with season_init = "decompose" also
        the initial seasonal indices the training starts from."""
        if not isinstance(data, ForecastSplits) or data.panel is None:
            raise TypeError("Forecasting.describe needs the splits of Forecasting.load(), which carry their panel")
        panel, train = data.panel, data.train
        window = self.forecaster != "esrnn"
        meta: Meta = {"freq": panel.freq, "season": self.period(panel), "series_ids": list(panel.ids),
                      "covariates": list(panel.covariate_names), "scale": self.scale,
                      "input_features": int(train.inputs.size(-1)) if window else 1,
                      "future_features": 0 if train.future is None else int(train.future.size(-1))}
        if not window and self.season_init == "decompose" and meta["season"] > 1:
            meta["init_season"] = initial_seasons(train, meta["season"]).tolist()
        return meta

    def build_model(self, cfg: ModelConfig, meta: Meta) -> nn.Module:
        if self.forecaster == "esrnn":
            return build_esrnn(self, cfg, len(meta["series_ids"]), meta["season"], meta.get("init_season"))
        return build_forecaster(self.forecaster, cfg, meta["input_features"], meta["future_features"], self.horizon,
                                output=self.output, quantiles=self.quantiles)

    def predictor(self, model: nn.Module, meta: Meta) -> ForecastPredictor:
        return ForecastPredictor(self, model, meta)

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]:
        if self.forecaster == "esrnn":
            return esrnn_loss(self, model, batch), None
        if self.forecaster == "autoregressive":
            params = model(batch.inputs, batch.future, batch.targets)                  # teacher forcing
        else:
            params = model(batch.inputs, batch.future)
        return likelihood_loss(params, batch.targets, self.output, self.quantiles), None

    def forecast(self, model: nn.Module, inputs: Tensor, future: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """(lower, point, upper) of the central `level` interval, each (B, K), on the scaled values."""
        if self.samples:
            paths = model.sample(inputs, future, self.samples)                            # (B, S, K)
            q = paths.new_tensor([(1 - self.level) / 2, 0.5, (1 + self.level) / 2])
            lower, point, upper = paths.quantile(q, dim=1)
            return lower, point, upper
        return self.interval(model(inputs, future))

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics:
        if self.forecaster == "esrnn":
            return evaluate_esrnn(self, model, batches)
        abs_sum = sq_sum = inside = count = 0.0
        for batch in batches:
            lower, point, upper = self.forecast(model, batch.inputs, batch.future)
            error = point - batch.targets
            abs_sum += error.abs().sum().item()
            sq_sum += error.pow(2).sum().item()
            inside += ((lower <= batch.targets) & (batch.targets <= upper)).sum().item()
            count += batch.targets.numel()
        return {"mae": abs_sum / count, "rmse": (sq_sum / count) ** 0.5, "coverage": inside / count}

    def interval(self, params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(lower, point, upper) of the central `level` interval, each (B, K)."""
        return interval(params, self.output, self.level)


def _scaled(values: Sequence[np.ndarray], cuts: Sequence[int], kind: str) -> list[np.ndarray]:
    """Each series scaled with the statistics of its points before its cut."""
    scaler = Scaler.fit([v[:c] for v, c in zip(values, cuts)], "none" if kind == "window" else kind)
    return scaler.transform(values)


def _batch(x: np.ndarray, y: np.ndarray, future: np.ndarray) -> Batch:
    if not np.isfinite(x).all() or not np.isfinite(y).all() or not np.isfinite(future).all():
        raise SeriesError("a window holds non-finite values after scaling")
    as32 = lambda a: torch.tensor(a, dtype=torch.float32)
    return Batch(as32(x), as32(y), future=as32(future) if future.shape[-1] else None)
