"""Global time-series forecasting: one recurrent model trained on windows from every series.

Each series is cut at its end: the last `horizon` points are the test part, the `horizon` before
them the validation part (`holdout` = 2; see `load` for 1 and 0), and training windows
(`input_size` points in, `horizon` out) use only the points before the validation part. Values
are scaled per series with statistics of the history before each forecast origin (`scale`); the
encoder also reads calendar features and the table's covariate columns. Metrics during training
are on the scaled values: `mae`, `rmse` and `coverage` of the central `level` interval;
`rnnkit forecast` reports them in the data's units.

Your data: a CSV or Parquet file in long format (one row per series and time) or one series; the
columns are named by `id_column`, `time_column` and `value_column` (`id_column` "" or absent: one
series). Covariates: `covariates` (default "*": every other column) are past-only (the encoder reads
them over the input window) unless `future_covariates` names them as known in advance (prices,
promotions, holidays); those and the calendar features are also fed to the model over the horizon
(`Batch.future`). Booleans become 0/1 and text columns one-hot categories, recorded in the run's
metadata (data/tables.py). At predict time the horizon values of the known-future covariates come
from a separate table (`rnnkit.data.future.extend`). Series too short for the run: `short_series`
(short.py). Each run records its windows (`Splits.ids`) and scores seasonal naive, ETS and Theta
on them beside the network (`baselines`, baselines.py).

Forecasters (`forecaster`): "direct", an encoder and one head for the whole horizon (`Forecaster`);
"seq2seq" and "autoregressive" decoders (`models/forecast_decoders.py`); "esrnn", the ES-RNN hybrid
of Smyl 2020 (`models/esrnn.py`, data and loss in `esrnn.py`), which normalises raw
values itself and reads neither covariates nor calendar features.

Validated selection (`select`, on by default; select.py): after training, the network, Theta, ETS and
their combinations forecast each series' validation window and per group (the frequency, or the
column `select_by`) the combination with most members within one standard error of the best in
MASE (`select_rule = "one_se"`; "best": the lowest) is kept in meta.json; every later forecast uses it. A fixed
combination (`combine`): the model's forecast combined with those baselines' forecasts from the same
origin (the median or mean, `combine_how`; forecast/combine.py), no selection. Training is unchanged;
`predict`, `rnnkit forecast predict` and backtests return the chosen forecast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from ...config import ModelConfig
from ...data.batch import Batch, Splits
from ...data.series import MISSING, Panel, SeriesError, load_series
from ...forecast.baselines import BASELINES
from ...forecast.combine import HOW
from ...forecast.synthetic import synthetic_panel
from ...models.likelihoods import OUTPUTS, interval, likelihood_loss
from ..base import Meta, Metrics
from .backtest import predict
from .baselines import forecast_scores, scores, split_ids
from .decoders import FORECASTERS, build_forecaster
from .esrnn import build as build_esrnn
from .esrnn import evaluate as evaluate_esrnn
from .esrnn import initial_seasons
from .esrnn import loss as esrnn_loss
from .esrnn import splits as esrnn_splits
from .predictor import ForecastPredictor
from .select import NETWORK, RULES, SELECT, groups_of, select, show
from .short import SHORT, screen
from .windows import splits as window_splits

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
    id_column: str = "series_id"    # the column of series ids; "" (or this default absent) = one series
    time_column: str = "timestamp"  # the column of timestamps (dates, or integers: freq "int")
    value_column: str = "value"     # the column to forecast
    covariates: tuple[str, ...] = ("*",)      # other columns the model reads ("*": all, []: none);
                                              # true/false become 0/1, text columns one-hot categories
    freq: str = ""                  # pandas offset alias ("MS", "D", "h") or "int"; "" infers it
    missing: str = "error"          # NaN values: error, ffill or interpolate
    input_size: int = 24            # points the encoder reads
    horizon: int = 12               # points forecast at once
    season: int = 0                 # seasonal period (MASE, seasonal naive); 0 = from the frequency
    scale: str = "window"           # window: each window by its inputs' mean |y| (best on Airline, M3; results.md)
                                    # or per series: standard, mean, none
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
    select: str = "validate"        # validate: keep what forecasts the validation windows best in MASE (network,
                                    # theta, ets or a combination; select.py); network: the network alone
    select_rule: str = "one_se"     # one_se: the combination with most members within one standard error of the
                                    # best on validation (select.py); best: the lowest validation MASE
    select_by: str = ""             # a column naming each series' group to select per; "": one group (the frequency)
    short_series: str = "error"     # series too short for the run: error, drop, or baseline (seasonal naive instead)
    baseline_methods: tuple[str, ...] = ("seasonal_naive", "ets", "theta")   # scored beside the model after training

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
        for key in ("combine", "baseline_methods"):
            unknown = sorted(set(getattr(self, key)) - set(BASELINES))
            if unknown:
                raise ValueError(f"task.{key} names unknown baselines {unknown}; choose from {sorted(BASELINES)}")
        if "*" in self.covariates and len(self.covariates) > 1:
            raise ValueError(f"task.covariates: '*' (every column) stands alone, got {list(self.covariates)}")
        for name, value, choices in (("output", self.output, OUTPUTS), ("missing", self.missing, MISSING),
                                     ("forecaster", self.forecaster, FORECASTERS),
                                     ("combine_how", self.combine_how, HOW), ("short_series", self.short_series, SHORT),
                                     ("season_init", self.season_init, ("flat", "decompose")),
                                     ("weighting", self.weighting, ("origin", "series")),
                                     ("select", self.select, SELECT), ("select_rule", self.select_rule, RULES),
                                     ("scale", self.scale, ("standard", "mean", "none", "window"))):
            if value not in choices:
                raise ValueError(f"task.{name} = {value!r} is not known; choose one of {list(choices)}")

    @property
    def quantiles(self) -> tuple[float, float, float]:
        return ((1 - self.level) / 2, 0.5, (1 + self.level) / 2)

    def panel(self) -> Panel:
        """The series as read (the columns the task names, covariates encoded) and checked."""
        if not self.data:
            raise SeriesError("task.data is empty: give your CSV or Parquet file, e.g. --task.data=sales.csv")
        source: Any = synthetic_panel() if self.data == "synthetic" else self.data
        panel = load_series(source, freq=self.freq or None, missing=self.missing, id_col=self.id_column,
                            time_col=self.time_column, value_col=self.value_column, covariates=self.columns(),
                            ignore=(self.select_by,) if self.select_by else ())
        unknown = [n for n in self.future_covariates if n not in panel.covariate_names and n not in panel.categories]
        if unknown:
            raise SeriesError(f"task.future_covariates names {unknown[0]!r}, which is not a column of the data; "
                              f"its covariate columns are {list(panel.covariate_names)}")
        return panel

    def columns(self) -> list[str] | None:
        """The table's covariate columns to read (None: every one): `covariates` and `future_covariates`."""
        if self.covariates == ("*",):
            return None
        return [*self.covariates, *(n for n in self.future_covariates if n not in self.covariates)]

    def period(self, panel: Panel) -> int:
        return self.season or season_of(panel.freq)

    def load(self) -> ForecastSplits:
        """Each series cut `cut` points before its end (backtests), its last `holdout` horizons held
        out (valid, test); series too short for that follow `short_series`. `ids` records the windows."""
        panel, short = screen(self, self.panel(), self.cut)
        if self.cut:
            keep = lambda items: [a[:-self.cut] for a in items]
            panel = dataclasses.replace(panel, values=keep(panel.values), times=keep(panel.times),
                                        covariates=keep(panel.covariates))
        cuts = [len(v) - self.holdout * self.horizon for v in panel.values]
        ids = split_ids(self, panel, cuts, short)
        if self.forecaster == "esrnn":     # forecasting from a cut needs only the input window before it
            split = esrnn_splits(self, panel)
            return ForecastSplits(split.train, split.valid, split.test, ids=ids, panel=panel)
        train, valid, test, _ = window_splits(self, panel)
        return ForecastSplits(train, valid, test, ids=ids, panel=panel)

    def baselines(self, data: Splits, splits: Sequence[str]) -> dict[str, dict[str, Metrics]]:
        """`baseline_methods` on exactly the windows of each split, in the units of `evaluate`
        (baselines.py; the methods fit each window's own history, so there is nothing to share)."""
        if not isinstance(data, ForecastSplits) or data.panel is None or data.ids is None:
            raise TypeError("Forecasting.baselines needs the splits of Forecasting.load(), which carry their panel")
        return {split: scores(self, data.panel, data.ids, split) for split in splits}

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
                      "covariates": list(panel.covariate_names), "covariate_columns": panel.columns(),
                      "categories": panel.categories, "scale": self.scale,
                      "input_features": int(train.inputs.size(-1)) if window else 1,
                      "future_features": 0 if train.future is None else int(train.future.size(-1))}
        if not window and self.season_init == "decompose" and meta["season"] > 1:
            meta["init_season"] = initial_seasons(train, meta["season"]).tolist()
        return meta

    def choose(self, model: nn.Module, data: Splits, meta: Meta, run_dir: Path | None = None) -> Meta:
        """After training: `meta` with the validated selection (select.py) under "selection", printed
        as one table; unchanged with select = "network", a fixed `combine`, or no held-out window.
        The choice lives in meta.json alone (`run_dir` is not written to)."""
        if self.select != "validate" or self.combine:
            return meta
        if not isinstance(data, ForecastSplits) or data.panel is None or data.ids is None:
            raise TypeError("Forecasting.choose needs the splits of Forecasting.load(), which carry their panel")
        if self.holdout == 0:
            print("validated selection skipped: task.holdout = 0 leaves no validation window training did not see")
            return meta
        groups = groups_of(self, data.panel, self.data if self.select_by else None)
        selection = select(self, model, data.panel, data.ids, groups, predict)
        how = ("the combination with most members within one standard error (SE) of the lowest validation MASE"
               if self.select_rule == "one_se" else "the lowest validation MASE")
        print(f"== validated selection: {how} is kept per group (meta.json 'selection')\n"
              f"{show(selection)}", flush=True)
        return {**meta, "selection": selection}

    def build_model(self, cfg: ModelConfig, meta: Meta) -> nn.Module:
        if self.forecaster == "esrnn":
            return build_esrnn(self, cfg, len(meta["series_ids"]), meta["season"], meta.get("init_season"))
        return build_forecaster(self.forecaster, cfg, meta["input_features"], meta["future_features"], self.horizon,
                                output=self.output, quantiles=self.quantiles)

    def predictor(self, model: nn.Module, meta: Meta) -> ForecastPredictor:
        return ForecastPredictor(self, model, meta)

    def run_predictor(self, model: nn.Module, meta: Meta, run_dir: Path) -> ForecastPredictor:
        """`predictor`: the selection it follows is in meta.json (a `ReadsRunFiles` for `run_metrics`)."""
        return self.predictor(model, meta)

    def run_metrics(self, predictor: Any, data: Splits, split: str) -> Metrics | None:
        """What the run forecasts (its validated selection) scored on the windows of `split`, in the
        units of `evaluate` and the baselines, where validation chose other than the network alone
        for some group; else None (then the network's own metrics are the run's)."""
        selection = predictor.meta.get("selection") if isinstance(predictor, ForecastPredictor) else None
        if (not selection or self.select != "validate" or self.combine or split not in ("valid", "test")
                or all(c == NETWORK for c in selection["choice"].values())):
            return None
        if not isinstance(data, ForecastSplits) or data.panel is None or data.ids is None:
            raise TypeError("Forecasting.run_metrics needs the splits of Forecasting.load(), which carry their panel")
        groups = groups_of(self, data.panel, self.data if self.select_by else None)
        group = dict(zip(data.panel.ids, groups))
        series = predictor.meta["series_ids"] if self.forecaster == "esrnn" else None
        return forecast_scores(self, data.panel, data.ids, split, lambda part, origins: predict(
            predictor.model, self, part, origins, series_ids=series, selection=selection,
            groups=[group[name] for name in part.ids]))

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

