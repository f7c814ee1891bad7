"""Random search vs TPE vs GP at equal trial budgets, several seeds each (docs/results.md, issue 8).

    python benchmarks/tune_samplers.py                      # the full comparison: 3 samplers x 5 seeds x 30 trials
    python benchmarks/tune_samplers.py --quick              # a smoke run: 2 seeds x 6 trials on a tiny reservoir
    python benchmarks/tune_samplers.py --config configs/tune_esn_mackey_glass.toml --seeds 0-9 --trials 50

Each (sampler, seed) is one `rnnkit tune` study of the config's [tune.space], in OUT/SAMPLER-SEED.
The task and its own seed stay fixed; only the sampler's seed changes. Written to OUT: curves.csv
(best value found after n trials, per study), summary.md (the tables below) and curves.png.

The goal (issue 8): the Bayesian samplers reach random search's final best in at most half the
trials. The table reads the median over seeds of each sampler's best-so-far curve: its value at
each budget, and the first trial count at which it is as good as random search's median curve at
the end of the budget.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import time
from pathlib import Path

from rnnkit.tune.search import tune

QUICK = ["--task.train_steps=1500", "--task.valid_steps=800", "--task.test_steps=800", "--task.washout=200",
         "--model.hidden_size=50", "--tune.startup_trials=3"]


def best_so_far(values: list[float], minimize: bool) -> list[float]:
    curve, best = [], math.inf if minimize else -math.inf
    for value in values:
        if math.isfinite(value):
            best = min(best, value) if minimize else max(best, value)
        curve.append(best)
    return curve


def study_curve(config: str, sampler: str, seed: int, trials: int, out: Path, extra: list[str]) -> tuple[list, bool]:
    import optuna

    directory = out / f"{sampler}-{seed}"
    summary = tune(config, [f"--tune.sampler={sampler}", f"--tune.seed={seed}", f"--tune.trials={trials}",
                            f"--tune.out_dir={directory}", "--tune.plots=false", *extra])
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(directory / "study.journal")))
    study = optuna.load_study(study_name=summary["study"], storage=storage)
    done = sorted((t for t in study.get_trials() if t.state.is_finished()), key=lambda t: t.number)
    values = [t.value if t.value is not None else math.nan for t in done]
    minimize = study.direction == optuna.study.StudyDirection.MINIMIZE
    return best_so_far(values, minimize), minimize


def reach(curve: list[float], target: float, minimize: bool) -> float:
    for n, value in enumerate(curve, start=1):
        if (value <= target) if minimize else (value >= target):
            return n
    return math.inf


def summarise(curves: dict[str, list[list[float]]], trials: int, minimize: bool) -> str:
    budgets = sorted({b for b in (5, 10, 15, 20, 30, 50, 100) if b < trials} | {trials})
    header = " | ".join(f"best after {b}" for b in budgets)
    lines = [f"| sampler | {header} | trials to reach random's final best |", "|---" * (len(budgets) + 2) + "|"]
    median = {sampler: [statistics.median(c[i] for c in runs) for i in range(trials)]
              for sampler, runs in curves.items()}
    target = median["random"][-1] if "random" in median else math.nan
    for sampler, curve in median.items():
        cells = [f"{curve[b - 1]:.4g}" for b in budgets]
        lines.append(f"| {sampler} | " + " | ".join(cells) + f" | {reach(curve, target, minimize):g} |")
    seeds = len(next(iter(curves.values())))
    lines.append(f"\nMedians over {seeds} seeds; random's final best (median) = {target:.4g}; "
                 f"{'lower' if minimize else 'higher'} is better.")
    return "\n".join(lines)


def plot(curves: dict[str, list[list[float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for sampler, runs in curves.items():
        n = range(1, len(runs[0]) + 1)
        axes.plot(n, [statistics.median(c[i] for c in runs) for i in range(len(runs[0]))], label=sampler)
    axes.set(xlabel="trials", ylabel="best value so far (median over seeds)", yscale="log")
    axes.legend()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def seeds_of(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/tune_esn_mackey_glass.toml")
    parser.add_argument("--samplers", default="random,tpe,gp")
    parser.add_argument("--seeds", default="0-4", help="0-4 or 0,3,7")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--out", default="runs/tune_samplers")
    parser.add_argument("--quick", action="store_true", help="2 seeds x 6 trials on a 50-unit reservoir")
    args = parser.parse_args()
    seeds, trials, extra = seeds_of(args.seeds), args.trials, []
    if args.quick:
        seeds, trials, extra = seeds[:2], 6, QUICK
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty; choose another --out (studies are never overwritten)")
    curves: dict[str, list[list[float]]] = {}
    minimize, start = True, time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "curves.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["sampler", "seed", "trials", "best_so_far"])
        for seed in seeds:                                  # interleaved, so a slow spell hits every sampler
            for sampler in args.samplers.split(","):
                curve, minimize = study_curve(args.config, sampler, seed, trials, out, extra)
                curves.setdefault(sampler, []).append(curve)
                writer.writerows([sampler, seed, n, value] for n, value in enumerate(curve, start=1))
                file.flush()
    table = summarise(curves, trials, minimize)
    took = time.perf_counter() - start
    text = (f"{args.config}, {trials} trials per study, seeds {seeds}{' (--quick)' if args.quick else ''}; "
            f"{took:.0f} s in all\n\n{table}\n")
    (out / "summary.md").write_text(text)
    plot(curves, out / "curves.png")
    print(text)


if __name__ == "__main__":
    main()
