"""Per-iteration cost of rnnkit.fit() against a minimal hand-written loop on the same model and data.

Both train the same torch.nn.LSTM -> Linear model on the adding problem (batches drawn by a
fresh permutation each epoch, MSE, Adam, global-norm clipping, one validation pass at the end),
so the ratio is what fit() itself costs: batching, the TBPTT/accumulation machinery, the
finite checks and gradient-norm logging, the schedule. A third column runs fit() with rnnkit's
own LSTM stack (build_rnn + SequenceModel) to show the library's layer overhead too.
Runs are interleaved (A B C, A B C, ...); the table gives the median per-iteration time and the
median of the per-repeat ratios to the hand-written loop.

    python benchmarks/fit_overhead.py                 # defaults: B=64, T=50, H=128, 200 iterations
    python benchmarks/fit_overhead.py --hidden 256 --repeats 7 --threads 1
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.data.batch import Splits
from rnnkit.runs.configs import load_config
from rnnkit.tasks import build_task
from rnnkit.tasks.adding import Adding
from rnnkit.train import fit


class TorchLSTM(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x, state=None, lengths=None):
        y, state = self.lstm(x, state)                                        # (B, T, H)
        return self.head(y[:, -1]), state                                     # (B, 1)


@dataclass(frozen=True)
class TorchAdding(Adding):
    hidden: int = 128

    def build_model(self, cfg, data) -> nn.Module:
        return TorchLSTM(self.hidden)


def hand_written(model: nn.Module, data: Splits, iterations: int, batch_size: int, lr: float, seed: int) -> None:
    """The loop a user would write: no framework at all."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    x, y, epoch, position = data.train.inputs, data.train.targets, 0, 0
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    for _ in range(iterations):
        if position + batch_size > len(x):
            epoch, position = epoch + 1, 0
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed + epoch))
        index = order[position:position + batch_size]
        position += batch_size
        out, _ = model(x[index])
        loss = F.mse_loss(out.squeeze(1), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    model.eval()
    with torch.no_grad():
        F.mse_loss(model(data.valid.inputs)[0].squeeze(1), data.valid.targets).item()
    model.train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = [f"--task.length={args.length}", f"--task.train_size={args.batch * 20}",
                f"--task.valid_size={args.batch}", f"--model.hidden_size={args.hidden}",
                f"--train.batch_size={args.batch}", f"--train.iterations={args.iterations}",
                "--train.eval_every=0", "--train.clip=1.0", "--train.plots=false", "--train.device=cpu",
                "--optim.lr=0.001", "--seed=0"]
    cfg = load_config(None, settings)
    task = TorchAdding(length=args.length, train_size=args.batch * 20, valid_size=args.batch, hidden=args.hidden)
    data = task.load()
    rnnkit_task = build_task(cfg.task)

    def run_fit(make_model) -> None:
        with contextlib.redirect_stdout(io.StringIO()):               # fit's log lines are not the point
            fit(make_model(), task, data, cfg)

    runs = {"hand-written loop": lambda: hand_written(TorchLSTM(args.hidden), data, args.iterations, args.batch,
                                                      0.001, 0),
            "fit(), same nn.LSTM model": lambda: run_fit(lambda: TorchLSTM(args.hidden)),
            "fit(), rnnkit LSTM stack": lambda: run_fit(lambda: rnnkit_task.build_model(cfg.model, data))}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for go in runs.values():                                          # warm-up: kernels, allocator, imports
        go()
    for _ in range(args.repeats):
        for name, go in runs.items():
            torch.manual_seed(0)
            start = time.perf_counter()
            go()
            times[name].append((time.perf_counter() - start) / args.iterations * 1000)
    base = times["hand-written loop"]
    print(f"adding problem, B={args.batch} T={args.length} H={args.hidden}, {args.iterations} iterations, "
          f"{args.repeats} interleaved repeats, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"| {'loop':<28} | ms / iteration (median) | ratio (median) |")
    print(f"|{'-' * 30}|{'-' * 25}|----------------|")
    for name, values in times.items():
        ratio = statistics.median(v / b for v, b in zip(values, base))
        print(f"| {name:<28} | {statistics.median(values):23.3f} | {ratio:14.3f} |")


if __name__ == "__main__":
    main()
