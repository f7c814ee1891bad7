"""Sequence classification on small UEA/UCR sets (issue #18): the default command over several seeds,
and variants of it chosen by the cross-validation folds' held-out score, never by the test split.

    python benchmarks/classify_small_data.py --out /tmp/csd                      # default, seeds 0 1 2
    python benchmarks/classify_small_data.py --variants raw diff raw_p30 diff_p30 --seeds 0 --jobs 2

Each run is `rnnkit train configs/classify_sequences.toml --task.path=$AEON/SET --seed=S` plus the
variant's flags ($AEON: the aeon wheel's datasets/data folder). The small-data protocol writes the
folds' held-out accuracy and loss to RUN_DIR/cv.json (what selected among these variants by hand:
accuracy, then loss; the default's own choice with task.differences = "auto" is the "kept by the
folds" column) and the test split's scores of the ensemble, 1-NN DTW and MiniRocket + ridge to
baselines.json.
Prints one markdown row per (set, variant) and keeps every run's numbers in OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from _jobs import merge_results, run_parallel

SETS = ("BasicMotions", "ItalyPowerDemand", "GunPoint")
VARIANTS = {
    "default": [],
    "auto_p30": ["--task.differences=auto", "--train.patience=30"],
    "raw": ["--task.differences=false", "--train.patience=10"],
    "diff": ["--task.differences=true", "--train.patience=10"],
    "raw_p30": ["--task.differences=false", "--train.patience=30"],
    "diff_p30": ["--task.differences=true", "--train.patience=30"],
}


def aeon_data() -> Path:
    import aeon  # deferred: the classify extra's heavy import
    return Path(aeon.__file__).parent / "datasets" / "data"


def command(data: Path, name: str, variant: str, seed: int, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "rnnkit", "train", "configs/classify_sequences.toml", f"--task.path={data / name}",
            *VARIANTS[variant], *extra, f"--seed={seed}", f"--out_dir={out / f'{Path(name).name}_{variant}_s{seed}'}",
            "--train.plots=false"]


def read_run(run: Path) -> dict:
    """The folds' held-out scores (cv.json) and the test scores of the model and its baselines."""
    cv = json.loads((run / "cv.json").read_text())
    test = json.loads((run / "baselines.json").read_text())["test"]
    return {"cv_accuracy": cv["cv"]["accuracy"], "cv_loss": cv["cv"]["loss"],
            "members": [m["accuracy"] for m in cv["members"]["test"]],
            "test": test["model"]["accuracy"], "dtw": test["1nn_dtw"]["accuracy"],
            # the folds' choices: the variant (task.differences = "auto"), then the model (task.select)
            "kept": "+".join(k for k in (cv.get("variants", {}).get("chosen", ""),
                                         cv.get("selection", {}).get("choice", "")) if k),
            "minirocket": test["minirocket_ridge"]["accuracy"]}


def summary(results: dict[str, dict]) -> str:
    rows = ["| set | variant | seeds | folds' held-out accuracy / loss | test accuracy: mean (per seed) | spread "
            "| kept by the folds | 1-NN DTW | MiniRocket | minutes |", "|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["set"], r["variant"]) for r in results.values()})
    for name, variant in keys:
        runs = sorted((r for r in results.values() if (r["set"], r["variant"]) == (name, variant)),
                      key=lambda r: r["seed"])
        test = [r["test"] for r in runs]
        mean = {key: statistics.mean(r[key] for r in runs) for key in ("cv_accuracy", "cv_loss", "dtw",
                                                                        "minirocket", "seconds")}
        rows.append(f"| {name} | {variant} | {len(runs)} | {mean['cv_accuracy']:.3f} / {mean['cv_loss']:.3f} | "
                    f"{statistics.mean(test):.3f} ({' / '.join(f'{t:.3f}' for t in test)}) | "
                    f"{100 * (max(test) - min(test)):.1f} | {' / '.join(r.get('kept') or '-' for r in runs)} | "
                    f"{mean['dtw']:.3f} | {mean['minirocket']:.3f} | "
                    f"{mean['seconds'] / 60:.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), help="UEA/UCR names in the aeon wheel, or folders")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=["default"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (each then on one thread)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_classify_small_data"))
    parser.add_argument("--flag", action="append", default=[], metavar="--SECTION.KEY=VALUE",
                        help="a config override for every run (repeatable)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    data = aeon_data()
    jobs = {f"{Path(s).name}_{v}_s{seed}": (s, v, seed)
            for s in args.sets for v in args.variants for seed in args.seeds}
    results: dict[str, dict] = {}

    def done(run: str, seconds: float) -> None:
        name, variant, seed = jobs[run]
        results[run] = {"set": Path(name).name, "variant": variant, "seed": seed, "seconds": seconds,
                        **read_run(args.out / run)}
        print(f"{run}: {json.dumps(results[run])}", flush=True)

    run_parallel({run: command(data, s, v, seed, args.out, args.flag) for run, (s, v, seed) in jobs.items()},
                 args.out, args.jobs, done)
    print(summary(merge_results(args.out, results)))


if __name__ == "__main__":
    main()
