"""`rnnkit generate` for echo state network runs: closed-loop generation of a chaotic series.

    rnnkit generate runs/esn_mackey_glass --steps=84            # from the start of the test split
    rnnkit generate runs/esn_mackey_glass --steps=500 --seed=7  # a fresh series (data seed 7)

The network reads the first `--warmup` steps teacher-forced (default: the task's washout), then
runs free for `--steps` steps, feeding each prediction back as its next input. The values go to
stdout and RUN_DIR/generated[-seedS].csv, the plot to RUN_DIR/generated[-seedS].png, and the
NRMSE (error divided by the series' standard deviation, as in training) to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch import Tensor

from ..tasks import build_task


def generate(args: argparse.Namespace) -> int:
    from ..io.files import atomic_write
    from ..runs import read_config
    from ..tasks.chaotic_series import plot_prediction
    from ..train.checkpoint import load_weights

    cfg = read_config(args.run_dir)
    task = build_task(cfg.task)
    model = load_weights(task.build_model(cfg.model, None), args.run_dir).eval()
    warmup = task.washout if args.warmup is None else args.warmup
    steps = task.horizon if args.steps is None else args.steps
    if args.seed is None:
        series, source = task.load().test, "the test split"
        if warmup + steps > series.inputs.size(1):
            raise ValueError(f"--warmup {warmup} + --steps {steps} exceed the test split's {series.inputs.size(1)} "
                             "steps; pass --seed=S to generate on a fresh series of any length")
    else:
        series, source = task.draw(warmup + steps, args.seed), f"a fresh series (data seed {args.seed})"
    prediction, truth = task.free_run(model, series, steps, warmup)
    scale = float(series.targets[0, :warmup + steps, 0].std())
    overall, last = nrmse(prediction, truth, scale), abs(float(prediction[-1] - truth[-1])) / scale
    rows = [f"{i + 1},{float(p)!r},{float(t)!r}" for i, (p, t) in enumerate(zip(prediction, truth))]
    print("\n".join(["step,prediction,truth", *rows]))
    name = "generated" if args.seed is None else f"generated-seed{args.seed}"
    csv = Path(args.run_dir) / f"{name}.csv"
    atomic_write(csv, lambda tmp: tmp.write_text("\n".join(["step,prediction,truth", *rows]) + "\n"))
    png = plot_prediction(prediction, truth, Path(args.run_dir) / f"{name}.png",
                          f"{steps} free-running steps after {warmup} teacher-forced, NRMSE {overall:.3g}")
    print(f"{steps} closed-loop steps on {source} after {warmup} teacher-forced: NRMSE {overall:.4g} over all "
          f"steps, {last:.4g} at step {steps}; wrote {csv} and {png}", file=sys.stderr)
    return 0


def nrmse(prediction: Tensor, truth: Tensor, scale: float) -> float:
    """Root-mean-square error divided by `scale` (the series' standard deviation)."""
    return float((prediction - truth).pow(2).mean().sqrt()) / scale
