"""rnnkit's global forecaster against Darts' BlockRNNModel on M3 monthly, in one run: training
seconds per epoch, predict throughput (series per second) and sMAPE on the official test parts.

    pip install 'rnnkit[darts]'                         # darts[torch] 0.48.1; keeps the installed torch
    python benchmarks/forecast_darts.py                 # all 1,428 monthly series, 5 epochs each
    python benchmarks/forecast_darts.py --quick         # a smoke run: 40 series, 1 epoch

Same data, sizes and loss on both sides: each series' given history, inputs of 24 points, the
18-month horizon emitted at once by a linear head on the last state of a 1-layer LSTM (64 units),
3 quantiles (0.1, 0.5, 0.9) with the pinball loss and the median as the point forecast, batch 256,
Adam 3e-3, every window of every series (stride 1), the same torch thread count. Scaling is each
library's usual one: rnnkit divides each window by its inputs' mean |value| (task.scale =
"window"); Darts' `Scaler` (min-max per series, fitted on the history) is applied before fit and
predict and inverted after, inside the timings. Training time is from the series in memory to a
trained model (rnnkit: building the windows and `fit`; Darts: `fit`, which builds its dataset),
divided by the epochs. Ratios > 1 favour rnnkit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rnnkit.config import from_dict
from rnnkit.data.m3 import load_m3, to_frame
from rnnkit.forecast import smape
from rnnkit.runs import seed_everything
from rnnkit.tasks import build_task
from rnnkit.tasks.forecasting.backtest import predict
from rnnkit.train import fit

INPUT, HORIZON, QUANTILES = 24, 18, (0.1, 0.5, 0.9)


def timed(run, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def run_rnnkit(series: list, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    path = folder / "monthly.csv"
    to_frame(series, with_test=False).to_csv(path, index=False)
    cfg = from_dict({"task": {"name": "forecasting", "data": str(path), "freq": "int", "input_size": INPUT,
                              "horizon": HORIZON, "season": 12, "scale": "window", "output": "quantile",
                              "level": 0.8, "calendar": False, "holdout": 0},
                     "model": {"cell": "lstm", "hidden_size": args.hidden, "init": "torch"},
                     "train": {"epochs": args.epochs, "batch_size": args.batch_size, "eval_every": 0,
                               "plots": False, "device": "cpu"},
                     "optim": {"name": "adam", "lr": 3e-3}})
    seed_everything(args.seed)
    task = build_task(cfg.task)
    start = time.perf_counter()
    data = task.load()
    model = task.build_model(cfg.model, task.describe(data))
    fit(model, task, data, cfg)
    train = time.perf_counter() - start
    panel = task.panel()
    seconds, forecasts = timed(lambda: predict(model, task, panel), args.repeats)
    return {"train_s_per_epoch": train / args.epochs, "predict_series_per_s": len(series) / seconds,
            "smape": float(np.mean([smape(s.test, f.point) for s, f in zip(series, forecasts)])),
            "windows": len(data.train)}


def run_darts(series: list, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import BlockRNNModel
    from darts.utils.likelihood_models import QuantileRegression

    history = [TimeSeries.from_values(s.train.astype(np.float32)) for s in series]
    model = BlockRNNModel(
        input_chunk_length=INPUT, output_chunk_length=HORIZON, model="LSTM", hidden_dim=args.hidden,
        n_rnn_layers=1, batch_size=args.batch_size, n_epochs=args.epochs, random_state=args.seed,
        likelihood=QuantileRegression(list(QUANTILES)), optimizer_kwargs={"lr": 3e-3}, work_dir=str(folder),
        pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False,
                           "logger": False, "enable_checkpointing": False})
    start = time.perf_counter()
    scaler = Scaler()
    model.fit(scaler.fit_transform(history), verbose=False)
    train = time.perf_counter() - start

    def forecast() -> list:
        out = model.predict(HORIZON, series=scaler.transform(history), num_samples=1, verbose=False,
                            show_warnings=False)
        return scaler.inverse_transform(out)

    seconds, forecasts = timed(forecast, args.repeats)
    points = [f.values()[:, 0] for f in forecasts]
    return {"train_s_per_epoch": train / args.epochs, "predict_series_per_s": len(series) / seconds,
            "smape": float(np.mean([smape(s.test, p) for s, p in zip(series, points)]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="first N monthly series (0 = all 1,428)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="predict timings (median)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for both (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke run: 40 series, 1 epoch, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.limit, args.epochs, args.repeats = args.limit or 40, 1, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])   # the first optimizer imports torch._dynamo (seconds)
    series = load_m3("monthly")
    series = series[:args.limit] if args.limit else series
    with tempfile.TemporaryDirectory() as tmp:
        rnnkit = run_rnnkit(series, args, Path(tmp))
        darts = run_darts(series, args, Path(tmp))
    ratios = {"train_speedup": darts["train_s_per_epoch"] / rnnkit["train_s_per_epoch"],
              "predict_speedup": rnnkit["predict_series_per_s"] / darts["predict_series_per_s"],
              "smape_darts_minus_rnnkit": darts["smape"] - rnnkit["smape"]}
    print(json.dumps({"series": len(series), "threads": torch.get_num_threads(), "rnnkit": rnnkit,
                      "darts_block_rnn": darts, "ratios": ratios, "args": vars(args)}, indent=1))


if __name__ == "__main__":
    main()
