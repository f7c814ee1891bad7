"""Forecasting speed on M3 monthly: training seconds per epoch and predict throughput (series per
second) for rnnkit's global forecaster; the comparison with Darts' BlockRNNModel is
benchmarks/forecast_darts.py (it needs the `darts` extra).

    python benchmarks/forecast_speed.py                    # all 1,428 monthly series
    python benchmarks/forecast_speed.py --limit 200 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from rnnkit.config import from_dict
from rnnkit.data.m3 import load_m3, to_frame
from rnnkit.runs import seed_everything
from rnnkit.tasks import build_task
from rnnkit.tasks.forecasting.backtest import predict
from rnnkit.train import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    series = load_m3("monthly")
    series = series[:args.limit] if args.limit else series
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "monthly.csv"
        to_frame(series, with_test=False).to_csv(path, index=False)
        cfg = from_dict({"task": {"name": "forecasting", "data": str(path), "freq": "int", "input_size": 24,
                                  "horizon": 18, "season": 12, "scale": "window", "output": "quantile",
                                  "calendar": False, "holdout": 0},
                         "model": {"cell": args.cell, "hidden_size": args.hidden},
                         "train": {"epochs": args.epochs, "batch_size": args.batch_size, "eval_every": 0,
                                   "plots": False, "device": "cpu"}})
        seed_everything(0)
        task = build_task(cfg.task)
        data = task.load()
        model = task.build_model(cfg.model, task.describe(data))
        start = time.perf_counter()
        fit(model, task, data, cfg)
        per_epoch = (time.perf_counter() - start) / args.epochs
        panel = task.panel()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            predict(model, task, panel)
            times.append(time.perf_counter() - start)
    print(json.dumps({"series": len(series), "windows": len(data.train), "threads": torch.get_num_threads(),
                      "train_s_per_epoch": per_epoch, "predict_series_per_s": len(series) / statistics.median(times),
                      **vars(args)}, indent=1))


if __name__ == "__main__":
    main()
