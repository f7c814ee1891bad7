"""M3 results: sMAPE per frequency and overall for rnnkit's global forecaster, seasonal naive, ETS
and Theta, all computed in this one run on the same series, horizons and test parts.

    python benchmarks/forecast_m3.py                            # all 3,003 series, the ES-RNN hybrid
    python benchmarks/forecast_m3.py --forecaster direct        # the global LSTM with a direct head
    python benchmarks/forecast_m3.py --limit 20 --epochs 2      # a smoke run on 20 series per frequency
    python benchmarks/forecast_m3.py --validate --save val/     # choose settings without the test parts

`--validate` is the model-selection protocol: each series' last horizon of its history is held out
and scored instead of the test part (which is then not read at all), and the model trains on what
is before it. Settings are compared this way; only the chosen ones are run once on the test parts.
`--combine theta,ets` makes rnnkit's forecast the median (`--combine-how mean`: the mean) of the
seeds' mean and those baselines' forecasts, as `task.combine` does for `rnnkit forecast predict`;
the model's own figure is then printed as rnnkit_alone.
`--save DIR` writes each frequency's forecasts (every seed's and every baseline's) to DIR/<frequency>.npz,
so that ensembles across runs can be scored afterwards without retraining.

One model per frequency is trained on that frequency's series, from each series' given history only
(task.holdout = 0); the test parts are never written to the model's data file. The default
forecaster is the ES-RNN hybrid (Smyl 2020: per-series level and seasonality smoothing learned with
a global LSTM of 32 units, pinball loss, 5 / 5 / 15 / 10 epochs of batches of 32 series for yearly /
quarterly / monthly / other, the level wiggliness penalty on monthly series); `--forecaster
direct|seq2seq|autoregressive` train on windows instead. rnnkit's forecast is the mean of `--seeds`
models (default 3; each one's sMAPE is printed too), as the paper ensembles. sMAPE is the M3
definition in percent; a frequency's figure is the mean over its series of each series' sMAPE over
its official horizon, and "overall" the mean over all series.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rnnkit.config import from_dict
from rnnkit.data.m3 import FREQUENCIES, M3Series, load_m3, to_frame
from rnnkit.forecast import BASELINES, Forecast, smape
from rnnkit.forecast.combine import combine
from rnnkit.runs import seed_everything
from rnnkit.runs.configs import replace
from rnnkit.tasks import build_task
from rnnkit.tasks.forecasting.backtest import predict
from rnnkit.train import fit

INPUT_SIZE = {"yearly": 8, "quarterly": 8, "monthly": 24, "other": 16}    # <= shortest history - horizon
ESRNN_INPUT_SIZE = {"yearly": 6, "quarterly": 4, "monthly": 12, "other": 8}  # about a season: more origins
# Smyl's level wiggliness penalty: on the first 200 monthly series (2 seeds, 15 epochs) 50 gave sMAPE
# 21.47 and 21.90 against 21.58 and 22.90 without; on 100 quarterly series it made no difference
ESRNN_LEVEL_PENALTY = {"monthly": 50.0}
# epochs (batches of 32 series): one seed on all series of a frequency, under load, sMAPE
# yearly 17.46 after 5 and 18.05 after 15; quarterly 9.16 after 5 and 9.59 after 15; monthly 14.78
# after 1, 14.32 after 5 and 14.16 after 12; other 5.08 after 10
ESRNN_EPOCHS = {"yearly": 5, "quarterly": 5, "monthly": 15, "other": 10}
BASELINE_NAMES = ("seasonal_naive", "ets", "theta")


def rnnkit_forecasts(series: list, frequency: str, args: argparse.Namespace, folder: Path, seed: int
                     ) -> tuple[np.ndarray, float]:
    """(S, K) point forecasts of one model trained with `seed`, and its training seconds."""
    path = folder / f"{frequency}.csv"
    to_frame(series, with_test=False).to_csv(path, index=False)        # the test parts stay out
    horizon, season = FREQUENCIES[frequency]
    esrnn = args.forecaster == "esrnn"
    dilations = [int(d) for d in args.dilations.split(",")] if args.dilations else []
    batch_size = args.batch_size or (32 if esrnn else 256)                 # ES-RNN: one example per series
    cfg = from_dict({
        "seed": seed,
        "task": {"name": "forecasting", "data": str(path), "freq": "int", "horizon": horizon, "season": season,
                 "input_size": args.input_size or (ESRNN_INPUT_SIZE if esrnn else INPUT_SIZE)[frequency],
                 "scale": args.scale,
                 "output": args.output, "forecaster": args.forecaster, "calendar": False, "holdout": 0,
                 **({"season_init": args.season_init, "weighting": args.weighting} if esrnn else {}),
                 **({"level_penalty": ESRNN_LEVEL_PENALTY.get(frequency, 0.0) if args.level_penalty < 0
                     else args.level_penalty} if esrnn else {})},
        "model": {"cell": args.cell, "hidden_size": args.hidden or (32 if esrnn else 64), "num_layers": args.layers,
                  **({"num_layers": len(dilations), "dilations": dilations, "residual": True} if dilations else {})},
        "train": {"epochs": args.epochs or (ESRNN_EPOCHS[frequency] if esrnn else 50), "batch_size": batch_size,
                  "eval_every": 0, "clip": 1.0, "plots": False, "device": args.device},
        "optim": {"lr": args.lr},
    })
    seed_everything(cfg.seed)
    task = build_task(cfg.task)
    data = task.load()
    cfg = replace(cfg, [f"--train.batch_size={min(batch_size, len(data.train))}"])   # small subsets
    model = task.build_model(cfg.model, task.describe(data))
    start = time.perf_counter()
    fit(model, task, data, cfg)
    seconds = time.perf_counter() - start
    panel = task.panel()
    forecasts = predict(model.cpu(), task, panel)                          # from the end of each history
    return np.stack([f.point for f in forecasts]), seconds


def validation_split(series: list[M3Series]) -> list[M3Series]:
    """Each series' history without its last horizon, whose values become the scored part: the
    official test parts are dropped, so settings chosen on this never see them."""
    return [dataclasses.replace(s, train=s.train[:-s.horizon], test=s.train[-s.horizon:]) for s in series]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frequencies", default=",".join(FREQUENCIES))
    parser.add_argument("--limit", type=int, default=0, help="first N series per frequency (0 = all)")
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--hidden", type=int, default=0, help="0: 32 for esrnn, 64 otherwise")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--input-size", type=int, default=0, help="0: 6/4/12/8 for esrnn, 8/8/24/16 otherwise")
    parser.add_argument("--dilations", default="", help="e.g. 1,3,6,12: one dilated layer per entry (Smyl's "
                        "monthly stack; sets --layers), with residual connections")
    parser.add_argument("--epochs", type=int, default=0, help="0: 5/5/15/10 for esrnn (yearly/quarterly/monthly/"
                        "other), 50 otherwise")
    parser.add_argument("--level-penalty", type=float, default=-1.0,
                        help="esrnn: level wiggliness penalty; -1: 50 for monthly, 0 for the others")
    parser.add_argument("--season-init", default="flat", help="esrnn: flat or decompose initial seasonal indices")
    parser.add_argument("--weighting", default="origin", help="esrnn: origin (each origin counts the same in the "
                        "loss) or series (each series)")
    parser.add_argument("--seeds", type=int, default=3, help="models per frequency; forecasts are their mean")
    parser.add_argument("--forecaster", default="esrnn", help="esrnn (default), direct, seq2seq or autoregressive")
    parser.add_argument("--batch-size", type=int, default=0, help="0: 32 series for esrnn, 256 windows otherwise")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--scale", default="window", help="window (default), standard, mean or none; esrnn: unused")
    parser.add_argument("--output", default="quantile", help="quantile (median point), gaussian or student_t")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0, help="the first seed; the others follow it")
    parser.add_argument("--validate", action="store_true", help="score each history's last horizon instead of "
                        "the test part (model selection without the test parts)")
    parser.add_argument("--baselines", default=",".join(BASELINE_NAMES),
                        help="comma-separated baselines to compute in the same run ('' for none)")
    parser.add_argument("--combine", default="", help="baselines to combine with rnnkit's forecast, e.g. "
                        "theta,ets (rnnkit's column is then the combination; rnnkit_alone the model's own)")
    parser.add_argument("--combine-how", default="median", help="median (default) or mean")
    parser.add_argument("--save", help="write each frequency's forecasts to this folder (<frequency>.npz)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    combined = [b for b in args.combine.split(",") if b]
    baselines = list(dict.fromkeys([b for b in args.baselines.split(",") if b] + combined))
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        parser.error(f"unknown baselines {unknown}; choose from {sorted(BASELINES)}")

    per_series: dict[str, list[float]] = {}
    table: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for frequency in args.frequencies.split(","):
            series = load_m3(frequency)
            series = series[:args.limit] if args.limit else series
            series = validation_split(series) if args.validate else series
            results: dict[str, list[float]] = {}
            baseline_points: dict[str, np.ndarray] = {}
            start = time.perf_counter()
            for name in baselines:
                baseline_points[name] = np.stack([BASELINES[name](s.train, s.horizon, s.season).point for s in series])
                results[name] = [smape(s.test, p) for s, p in zip(series, baseline_points[name])]
            baseline_seconds = time.perf_counter() - start
            runs = [rnnkit_forecasts(series, frequency, args, Path(tmp), args.seed + k) for k in range(args.seeds)]
            points = np.mean([p for p, _ in runs], axis=0)                  # the ensemble: mean over seeds
            if combined:           # the seeds' mean, then its combination with the baselines (forecast/combine.py)
                results["rnnkit_alone"] = [smape(s.test, p) for s, p in zip(series, points)]
                points = np.stack([combine([Forecast(p), *(Forecast(baseline_points[b][i]) for b in combined)],
                                           args.combine_how).point for i, p in enumerate(points)])
            results["rnnkit"] = [smape(s.test, p) for s, p in zip(series, points)]
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                np.savez(Path(args.save) / f"{frequency}.npz", ids=[s.id for s in series],
                         actual=np.stack([s.test for s in series]), rnnkit=np.stack([p for p, _ in runs]),
                         **baseline_points)
            table[frequency] = {name: float(np.mean(v)) for name, v in results.items()}
            table[frequency].update(series=len(series), rnnkit_train_s=sum(t for _, t in runs),
                                    baselines_s=baseline_seconds, rnnkit_each_seed=[
                                        float(np.mean([smape(s.test, p) for s, p in zip(series, one)]))
                                        for one, _ in runs])
            for name, v in results.items():
                per_series.setdefault(name, []).extend(v)
            print(frequency, json.dumps(table[frequency]), flush=True)
    table["overall"] = {name: float(np.mean(v)) for name, v in per_series.items()}
    table["overall"]["series"] = len(per_series["rnnkit"])
    table["overall"]["rnnkit_train_s"] = sum(row["rnnkit_train_s"] for row in table.values() if "baselines_s" in row)
    names = ["rnnkit", *(["rnnkit_alone"] if combined else []), *baselines]
    print("\n| frequency | series | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for frequency, row in table.items():
        print(f"| {frequency} | {row['series']} | " + " | ".join(f"{row[n]:.2f}" for n in names) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "smape": table}, indent=1))


if __name__ == "__main__":
    main()
