"""Sequence labelling (issue #21): the shipped configs and the comparisons the issue asks for, on the
official test splits, each variant over several seeds, with the most-frequent-tag baseline of the
same run and each run's wall time.

    python benchmarks/tagging.py --out /tmp/tagging                       # everything below, 3 seeds
    python benchmarks/tagging.py --variants pos_gru pos_lstm --epochs 5    # the same budget for both
    python benchmarks/tagging.py --jobs 2                                  # two runs at once, one thread each

Variants (the config and the flags that make it):
    pos_gru        configs/pos_ewt_bigru.toml                        (UPOS, EWT; BiGRU, softmax)
    pos_lstm       the same with model.cell = "lstm"
    ner_lstm_crf   configs/ner_conll03_bilstm_crf.toml               (CoNLL-2003; BiLSTM, CRF)
    ner_gru_crf    the same with model.cell = "gru"
    ner_lstm_softmax  the same with task.crf = false

`--epochs N` gives every variant the same budget of N epochs (early stopping off, the best
validation epoch kept); without it each config runs as shipped. Prints one markdown row per variant
(mean and spread over seeds) and writes every run's numbers to OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from _jobs import merge_results, run_parallel

VARIANTS = {
    "pos_gru": ("configs/pos_ewt_bigru.toml", []),
    "pos_lstm": ("configs/pos_ewt_bigru.toml", ["--model.cell=lstm"]),
    "ner_lstm_crf": ("configs/ner_conll03_bilstm_crf.toml", []),
    "ner_gru_crf": ("configs/ner_conll03_bilstm_crf.toml", ["--model.cell=gru"]),
    "ner_lstm_softmax": ("configs/ner_conll03_bilstm_crf.toml", ["--task.crf=false"]),
}


def command(variant: str, seed: int, epochs: int, out: Path, extra: list[str] = ()) -> list[str]:
    config, flags = VARIANTS[variant]
    budget = [f"--train.epochs={epochs}", "--train.patience=0"] if epochs else []
    return [sys.executable, "-m", "rnnkit", "train", config, *flags, *budget, *extra, f"--seed={seed}",
            f"--out_dir={out / f'{variant}_s{seed}'}", "--train.plots=false"]


def run_all(jobs: list[tuple[str, int]], epochs: int, out: Path, parallel: int, extra: list[str] = ()) -> dict[
        str, dict]:
    """Runs every (variant, seed), `parallel` at a time with one thread each; reads each run's
    test metrics (model and baseline) from its baselines.json."""
    results = {}

    def done(name: str, seconds: float) -> None:
        variant, seed = name.rsplit("_s", 1)
        table = json.loads((out / name / "baselines.json").read_text())["test"]
        results[name] = {"variant": variant, "seed": int(seed), "seconds": seconds,
                         "model": table["model"], "baseline": table["most frequent tag"]}
        print(f"{name}: {json.dumps(results[name])}", flush=True)

    run_parallel({f"{v}_s{s}": command(v, s, epochs, out, extra) for v, s in jobs}, out, parallel, done)
    return results


def summary(results: dict[str, dict]) -> str:
    """A markdown row per variant: the test metric's mean (min-max) over seeds, the baseline's, minutes."""
    rows = ["| variant | seeds | test metric: mean (min-max) | most frequent tag | minutes per run |",
            "|---|---|---|---|---|"]
    for variant in VARIANTS:
        runs = [r for r in results.values() if r["variant"] == variant]
        if not runs:
            continue
        metric = "f1" if "f1" in runs[0]["model"] else "accuracy"
        values = [100 * r["model"][metric] for r in runs]
        base = statistics.mean(100 * r["baseline"][metric] for r in runs)
        minutes = statistics.mean(r["seconds"] for r in runs) / 60
        rows.append(f"| {variant} | {len(runs)} | {metric} {statistics.mean(values):.2f} ({min(values):.2f}-"
                    f"{max(values):.2f}) | {base:.2f} | {minutes:.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=0, help="the same budget for every variant (0: as shipped)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (each then on one thread)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_tagging"))
    parser.add_argument("--flag", action="append", default=[], metavar="--SECTION.KEY=VALUE",
                        help="a config override for every run (repeatable), e.g. --flag=--task.path=my_data/")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = run_all([(v, s) for v in args.variants for s in args.seeds], args.epochs, args.out, args.jobs, args.flag)
    print(summary(merge_results(args.out, results)))


if __name__ == "__main__":
    main()
