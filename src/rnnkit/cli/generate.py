"""`rnnkit generate`: text from a language_modeling run, or a closed-loop series from a
chaotic_series (echo state network) run; the run's task decides.

    rnnkit generate runs/shakespeare_char --prompt="ROMEO:" --tokens=300 --temperature=0.8 --seed=1
    rnnkit generate runs/esn_mackey_glass --steps=84            # from the start of the test split
    rnnkit generate runs/esn_mackey_glass --steps=500 --seed=7  # a fresh series (data seed 7)

Text streams to stdout as it is sampled. A series run reads the first `--warmup` steps
teacher-forced (default: the task's washout), then runs free for `--steps` steps, feeding each
prediction back as its next input: the values go to stdout and RUN_DIR/generated[-seedS].csv, the
plot to RUN_DIR/generated[-seedS].png, and the NRMSE (error divided by the series' standard
deviation, as in training) to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch import Tensor

from ..io.files import atomic_write
from ..plots.series import plot_prediction
from ..runs import SavedRun, load, read_config
from ..tasks.chaotic_series import ChaoticSeries
from ..tasks.language_modeling import LanguageModelPredictor
from ._args import no_overrides

EXAMPLES = """examples:
  rnnkit generate runs/shakespeare_char --prompt="ROMEO:" --tokens=300 --temperature=0.8 --seed=1
  rnnkit generate runs/ptb_small --prompt="the company said" --tokens=30 --top-p=0.9
  rnnkit generate runs/ptb_small --prompt="the company said" --tokens=20 --beams=5
  rnnkit generate runs/esn_mackey_glass --steps=84             # closed loop on the test split
  rnnkit generate runs/esn_mackey_glass --steps=500 --seed=7   # ... on a fresh series"""


def generate(args: argparse.Namespace, overrides: list[str]) -> int:
    no_overrides("generate", overrides)
    name = read_config(args.run_dir).task.name
    if name not in ("language_modeling", "chaotic_series"):
        raise ValueError(f"{args.run_dir} is a {name!r} run, which cannot generate; generate continues a "
                         "language_modeling run's text or runs a chaotic_series run closed loop")
    saved = load(args.run_dir)
    return generate_text(saved, args) if name == "language_modeling" else generate_series(saved, args)


def generate_text(saved: SavedRun, args: argparse.Namespace) -> int:
    """Streams the prompt and its continuation to stdout; unknown prompt tokens are named on stderr."""
    assert isinstance(saved.predictor, LanguageModelPredictor)        # load() checked the task
    vocab = saved.predictor.vocab
    unknown = vocab.unknown(args.prompt)
    if unknown:
        print(f"note: {len(unknown)} prompt token(s) are not in the vocabulary and are read as "
              f"{vocab.unk!r}: {', '.join(map(repr, unknown[:20]))}", file=sys.stderr)
    write = lambda piece: print(piece, end="", flush=True)
    write(args.prompt)
    saved.predict(args.prompt, tokens=args.tokens, temperature=args.temperature, top_k=args.top_k,
                  top_p=args.top_p, greedy=args.greedy, seed=args.seed, beams=args.beams, on_text=write)
    print()
    return 0


def generate_series(saved: SavedRun, args: argparse.Namespace) -> int:
    """The closed loop on the test split (this reads the task's data) or on a fresh series drawn
    with data seed --seed, against the truth: CSV to stdout and the run directory, a PNG."""
    task = saved.task
    assert isinstance(task, ChaoticSeries)                             # generate() checked the task
    warmup = task.washout if args.warmup is None else args.warmup
    steps = task.horizon if args.steps is None else args.steps
    if args.seed is None:
        split, source = task.load().test, "the test split"
        if warmup + steps > split.inputs.size(1):
            raise ValueError(f"--warmup {warmup} + --steps {steps} exceed the test split's {split.inputs.size(1)} "
                             "steps; pass --seed=S to generate on a fresh series of any length")
    else:
        split, source = task.draw(warmup + steps, args.seed), f"a fresh series (data seed {args.seed})"
    series = task.unscaled(split, saved.meta)        # (T + 1,): s_0 and s_1..s_T, a CSV's in the file's units
    prediction = saved.predict(series, steps=steps, warmup=warmup)              # s_{warmup+1}...
    truth = series[warmup + 1:warmup + 1 + steps]
    scale = float(series[1:warmup + steps + 1].std())
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


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    p = commands.add_parser("generate", help="sample text from a language model, or run an ESN closed loop",
                            epilog=EXAMPLES, description="Continue PROMPT with a trained language "
                            "model, streaming the text; or, for a chaotic_series run, free-run the echo state "
                            "network after a teacher-forced warm-up (values as CSV, a PNG against the truth).",
                            **kind)
    p.add_argument("run_dir", help="a language_modeling or chaotic_series run directory")
    p.add_argument("--prompt", default="", help="text to continue (default: start a new line)")
    p.add_argument("--tokens", type=int, default=200, help="how many tokens to generate")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", "--top_k", dest="top_k", type=int, default=0, help="sample from the k most likely")
    p.add_argument("--top-p", "--top_p", dest="top_p", type=float, default=1.0, help="nucleus sampling mass")
    p.add_argument("--greedy", action="store_true", help="always take the most likely token")
    p.add_argument("--beams", type=int, default=1, help="beam search with this many beams (> 1)")
    p.add_argument("--seed", type=int, default=None, help="fix the sampling for a repeatable text; for a series, "
                   "draw a fresh one with this data seed (default: the run's test split)")
    p.add_argument("--steps", type=int, default=None, help="series: free-running steps (default: task.horizon)")
    p.add_argument("--warmup", type=int, default=None, help="series: teacher-forced steps first "
                   "(default: task.washout)")


COMMANDS = {"generate": generate}
