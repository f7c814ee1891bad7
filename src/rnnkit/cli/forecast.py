"""`rnnkit forecast train|predict|backtest|select`: the forecasting commands.

    rnnkit forecast train configs/forecast.toml --task.data=my.csv --task.time_column=Time --task.value_column=Demand
    rnnkit forecast predict runs/forecast_lstm --out=forecast.csv --plot s0 s3
    rnnkit forecast backtest configs/forecast_lstm.toml --folds=3 --baselines=naive,seasonal_naive,ets,theta
    rnnkit forecast select runs/forecast_lstm --rule=one_se     # the validated selection again, on the saved run
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from pathlib import Path
from typing import Any

from ..forecast.synthetic import synthetic_panel
from ..plots.forecast import plot_forecast
from ..runs import load, load_config, run, seed_everything
from ..runs.load import select_again
from ..tasks import build_task
from ..tasks.forecasting.backtest import backtest, summary
from ..tasks.forecasting.select import RULES, groups_of
from ..train import METHODS
from ._args import no_overrides, task_keys

EXAMPLES = """examples:
  rnnkit forecast train configs/forecast.toml --task.data=demand.csv --task.time_column=Time \\
      --task.value_column=Demand --task.covariates='["Temperature", "Holiday"]'   # your own file's columns
  rnnkit forecast train configs/forecast_lstm.toml --task.data=sales.csv   # like rnnkit train
  rnnkit forecast predict runs/forecast_lstm --out=forecast.csv --plot s0 s3
  rnnkit forecast predict runs/forecast_lstm --data=new_history.csv
  rnnkit forecast predict runs/promo_lstm --future=promo_plan.csv          # known-future covariates ahead
  rnnkit forecast backtest configs/forecast_lstm.toml --folds=3 --step=6 --baselines=naive,ets,theta
  rnnkit forecast select runs/forecast_lstm --rule=best                    # choose again on validation"""


def add_parsers(commands: Any, **kind: Any) -> None:
    parser = commands.add_parser("forecast", help="train, predict and backtest time-series forecasters",
                                 epilog=f"{EXAMPLES}\n\n{task_keys('forecasting')}",
                                 description="Time-series forecasting.", **kind)
    parser.add_argument("action", choices=["train", "predict", "backtest", "select"])
    parser.add_argument("target", help="train, backtest: a TOML config; predict, select: a run directory")
    parser.add_argument("--data", help="predict: forecast these series (default: the run's own data)")
    parser.add_argument("--future", help="predict: the known-future covariates over the horizon (series_id, "
                        "timestamp and the columns named by task.future_covariates)")
    parser.add_argument("--out", help="predict: the CSV to write (default RUN_DIR/forecast.csv); "
                        "backtest: a CSV of per-series, per-fold metrics")
    parser.add_argument("--plot", nargs="*", default=[], metavar="SERIES_ID",
                        help="predict: a PNG per series (history, forecast, interval) beside the CSV")
    parser.add_argument("--folds", type=int, default=1, help="backtest: rolling origins (default 1)")
    parser.add_argument("--step", type=int, default=0, help="backtest: points between origins (default horizon)")
    parser.add_argument("--baselines", default="seasonal_naive,ets,theta",
                        help="backtest: comma-separated names from rnnkit.forecast.BASELINES")
    parser.add_argument("--rule", choices=RULES, help="select: the rule (default: the run's task.select_rule); the "
                        "choice is rewritten in RUN_DIR/meta.json, the weights are not touched")
    parser.add_argument("--seed", type=int, help="override the config's seed")
    parser.add_argument("--out_dir", help="train: override the config's out_dir")


def forecast(args: argparse.Namespace, overrides: list[str]) -> int:
    actions = {"train": _train, "predict": _predict, "backtest": _backtest, "select": _select}
    return actions[args.action](args, overrides)


def _config(args: argparse.Namespace, overrides: list[str]) -> Any:
    top = [f"--{key}={getattr(args, key)}" for key in ("seed", "out_dir") if getattr(args, key) is not None]
    cfg = load_config(args.target, top + overrides)
    if cfg.task.name != "forecasting":
        raise ValueError(f"{args.target} is a {cfg.task.name!r} config; rnnkit forecast needs task.name = "
                         "'forecasting'")
    return cfg


def _train(args: argparse.Namespace, overrides: list[str]) -> int:
    print(json.dumps(run(_config(args, overrides))))
    return 0


def _predict(args: argparse.Namespace, overrides: list[str]) -> int:
    no_overrides("forecast predict", overrides)
    saved = load(args.target, tasks=("forecasting",), command="forecast predict")
    source = args.data or saved.task.data                      # default: the run's own series
    predictor = saved.predictor
    panel = predictor.panel(synthetic_panel() if source == "synthetic" else source)
    unknown = [s for s in args.plot if s not in panel.ids]
    if unknown:
        raise ValueError(f"--plot: no series {unknown[0]!r} in the data; it has {panel.ids[:5]}...")
    table = predictor.table(panel, future=args.future)
    out = Path(args.out or Path(args.target) / "forecast.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    horizon, pct = saved.task.horizon, round(saved.task.level * 100)
    exact = lambda v: repr(float(v)) if isinstance(v, float) else v          # floats written to round-trip
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(table.columns))
        writer.writerows([exact(v) for v in row] for row in table.itertuples(index=False))
    for name in args.plot:
        i, rows = panel.ids.index(name), table[table.series_id == name]
        if rows.empty:                                 # left out: task.short_series = "drop"
            continue
        plot_forecast(panel.times[i], panel.values[i], panel.future_times(i, horizon), rows.forecast.to_numpy(),
                      out.with_name(f"{out.stem}_{name}.png"), lower=rows[f"lower_{pct}"].to_numpy(),
                      upper=rows[f"upper_{pct}"].to_numpy(), title=f"{name}: forecast with {pct}% interval")
    print(f"wrote {out} ({table.series_id.nunique()} series x {horizon} steps)")
    return 0


def _backtest(args: argparse.Namespace, overrides: list[str]) -> int:
    """Trains on each series' points before the first origin, then scores model and baselines at every origin."""
    cfg = _config(args, overrides)
    seed_everything(cfg.seed)
    full = build_task(cfg.task)
    step = args.step or full.horizon
    task = dataclasses.replace(full, cut=full.horizon + (args.folds - 1) * step)
    data = task.load()
    model = task.build_model(cfg.model, task.describe(data))
    METHODS[cfg.train.method](model, task, data, cfg)
    selection = task.choose(model.cpu(), data, {}).get("selection")        # on the windows before the first origin
    baselines = [b for b in args.baselines.split(",") if b]
    panel = full.panel()
    groups = groups_of(full, panel, full.data) if full.select_by else None
    rows = backtest(panel, full, folds=args.folds, step=step, model=model, baselines=baselines,
                    selection=selection, groups=groups)
    if args.out:
        with Path(args.out).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    print(json.dumps(summary(rows), indent=1))
    return 0


COMMANDS = {"forecast": forecast}


def _select(args: argparse.Namespace, overrides: list[str]) -> int:
    """The validated selection of a saved run made again (another rule, or a run trained before a
    rule changed): the same validation windows, the saved network; meta.json is rewritten."""
    no_overrides("forecast select", overrides)
    changes = {"select_rule": args.rule} if args.rule else {}
    meta = select_again(args.target, tasks=("forecasting",), command="forecast select", **changes)
    print(f"wrote the selection ({meta['selection']['rule']}) to {Path(args.target) / 'meta.json'}")
    return 0
