"""Airline passengers (Box & Jenkins, monthly 1949-1960), last 24 months held out: RMSE of rnnkit's
forecaster against seasonal naive and the Box-Jenkins airline model SARIMA(0,1,1)(0,1,1)12 on
log data, all in this one run. The series comes from the `aeon==1.6.0` wheel through the fetch layer.

    python benchmarks/forecast_airline.py
    python benchmarks/forecast_airline.py --cell gru --epochs 300 --seeds 5 --scale standard
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rnnkit.config import from_dict
from rnnkit.data.fetch import fetch
from rnnkit.forecast import BASELINES, rmse, smape
from rnnkit.runs import seed_everything
from rnnkit.tasks import build_task
from rnnkit.tasks.forecasting.backtest import predict
from rnnkit.train import fit

AEON = ("aeon", "1.6.0", "d05227086706f80111ac5fee8de4d5d3115bb3bcfd1c786c8629393055816409")
MEMBER = "aeon/datasets/data/Airline/Airline.csv"
HELD_OUT = 24


def airline() -> pd.DataFrame:
    table = pd.read_csv(fetch(*AEON, [MEMBER])[0])
    return pd.DataFrame({"timestamp": pd.to_datetime(table.iloc[:, 0]), "value": table.iloc[:, 1].astype(float)})


def sarima(history: np.ndarray, horizon: int) -> np.ndarray:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    model = SARIMAX(np.log(history), order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)).fit(disp=False)
    return np.exp(model.forecast(horizon))


def rnnkit_forecast(train: pd.DataFrame, args: argparse.Namespace, seed: int, folder: Path) -> tuple[np.ndarray, float]:
    path = folder / "airline.csv"
    train.to_csv(path, index=False)
    cfg = from_dict({
        "seed": seed,
        "task": {"name": "forecasting", "data": str(path), "input_size": args.input_size, "horizon": HELD_OUT,
                 "scale": args.scale, "output": args.output, "holdout": 0},
        "model": {"cell": args.cell, "hidden_size": args.hidden},
        "train": {"epochs": args.epochs, "batch_size": 16, "eval_every": 0, "clip": 1.0, "plots": False,
                  "device": "cpu"},
        "optim": {"lr": args.lr},
    })
    seed_everything(seed)
    task = build_task(cfg.task)
    data = task.load()
    model = task.build_model(cfg.model, task.describe(data))
    start = time.perf_counter()
    fit(model, task, data, cfg)
    return predict(model, task, task.panel())[0].point, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--input-size", type=int, default=36)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--scale", default="window")
    parser.add_argument("--output", default="gaussian")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    table = airline()
    train, test = table.iloc[:-HELD_OUT], table.value.to_numpy()[-HELD_OUT:]
    history = train.value.to_numpy()
    results = {"seasonal_naive": BASELINES["seasonal_naive"](history, HELD_OUT, 12).point,
               "sarima_airline": sarima(history, HELD_OUT)}
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for seed in range(args.seeds):
            point, took = rnnkit_forecast(train, args, seed, Path(tmp))
            runs.append(point)
            seconds.append(took)
    scores = {name: {"rmse": rmse(test, f), "smape": smape(test, f)} for name, f in results.items()}
    per_seed = [rmse(test, p) for p in runs]
    scores["rnnkit"] = {"rmse": float(np.mean(per_seed)), "rmse_per_seed": per_seed,
                        "smape": float(np.mean([smape(test, p) for p in runs])),
                        "train_s_per_seed": float(np.mean(seconds))}
    print(json.dumps({"args": vars(args), "scores": scores}, indent=1))


if __name__ == "__main__":
    main()
