"""What a run reports: a progress bar on a terminal (plain lines otherwise), metrics.jsonl and
metrics.csv, TensorBoard events when tensorboard is installed, PNG curves (plots/curves.py), a final
summary."""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from ..io.files import atomic_write
from ..plots.curves import plot_curves

METRICS_FILE = "metrics.jsonl"


class RunLog:
    """Logs to `run_dir` (None: the terminal only). Rows past `start` from an interrupted run
    are dropped, so a resumed run's log reads as if it had never stopped."""

    def __init__(self, run_dir: str | Path | None, *, total: int, start: int = 0, plots: bool = True,
                 log_every: int = 1, quiet: bool = False) -> None:
        self.dir, self.total, self.start, self.plots, self.log_every = run_dir, total, start, plots, log_every
        self.quiet = quiet                      # other processes than rank 0 say nothing
        self.clock = self.last_time = time.perf_counter()
        self.tokens = self.last_iteration = 0
        self.print_every = max(1, total // 20)
        self.bar = self.file = self.tensorboard = None
        if sys.stderr.isatty() and not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, unit="it", dynamic_ncols=True, leave=True)
        if run_dir is not None:
            self.dir = Path(run_dir)
            self.dir.mkdir(parents=True, exist_ok=True)
            rows = [r for r in read_metrics(self.dir) if r["iteration"] <= start]
            atomic_write(self.dir / METRICS_FILE, lambda tmp: tmp.write_text("".join(_line(r) for r in rows)))
            self.file = open(self.dir / METRICS_FILE, "a")
            self.tensorboard = _summary_writer(self.dir / "tensorboard", start)

    def train(self, iteration: int, loss: float, norm: float, lr: float, tokens: int) -> None:
        if self.quiet:
            return
        self.tokens += tokens
        if self.file is not None and iteration % self.log_every == 0:
            self.file.write(_line({"iteration": iteration, "split": "train", "loss": loss, "grad_norm": norm,
                                   "lr": lr}))
        if self.tensorboard is not None:
            for name, value in (("loss", loss), ("grad_norm", norm), ("lr", lr)):
                self.tensorboard.add_scalar(f"train/{name}", value, iteration)
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.update(1)
            if now - self.last_time > 0.5 or iteration == self.total:
                self.bar.set_postfix_str(f"loss {loss:.4g}  lr {lr:.3g}  {self._rate(iteration, now)}")
        elif iteration % self.print_every == 0 or iteration == self.total:
            eta = (self.total - iteration) * (now - self.clock) / max(1, iteration - self.start)
            print(f"iteration {iteration}/{self.total}  loss {loss:.4g}  grad norm {norm:.3g}  lr {lr:.3g}  "
                  f"{self._rate(iteration, now)}  eta {_duration(eta)}", flush=True)

    def _rate(self, iteration: int, now: float) -> str:
        rate = self.tokens / max(now - self.last_time, 1e-9)
        speed = (iteration - self.last_iteration) / max(now - self.last_time, 1e-9)
        self.tokens, self.last_time, self.last_iteration = 0, now, iteration
        return f"{speed:.1f} it/s  {rate / 1000:.1f}k tok/s"

    def evaluation(self, iteration: int, metrics: dict[str, float]) -> None:
        if self.quiet:
            return
        if self.file is not None:
            self.file.write(_line({"iteration": iteration, "split": "valid", **metrics}))
            self.file.flush()
        if self.tensorboard is not None:
            for name, value in metrics.items():
                self.tensorboard.add_scalar(f"valid/{name}", value, iteration)
        self._print(f"iteration {iteration}  valid " + "  ".join(f"{k} {v:.5g}" for k, v in metrics.items()))

    def finish(self, progress: Any, note: str = "") -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.close()
        if self.file is not None:
            self.file.close()
            rows = read_metrics(self.dir)
            write_csv(self.dir / "metrics.csv", rows)
            if self.plots:
                plot_curves(self.dir / "plots", rows)
        if self.tensorboard is not None:
            self.tensorboard.close()
        elapsed = time.perf_counter() - self.clock
        best = "" if math.isinf(progress.best) else f"; best at iteration {progress.best_iteration}"
        metrics = "  ".join(f"{k} {v:.5g}" for k, v in progress.metrics.items())
        print(f"{note + chr(10) if note else ''}done: iteration {progress.iteration}/{self.total} in "
              f"{_duration(elapsed)}{best}; valid {metrics or '-'}; {progress.skipped} skipped updates"
              f"{f'; run directory {self.dir}' if self.dir else ''}", flush=True)

    def _print(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of metrics.jsonl; a line cut short by a kill is skipped."""
    path = Path(run_dir) / METRICS_FILE
    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def _summary_writer(folder: Path, start: int) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:                     # tensorboard is optional: pip install rnnkit[tensorboard]
        return None
    return SummaryWriter(str(folder), purge_step=start + 1 if start else None)


def _line(row: dict[str, Any]) -> str:
    return json.dumps(row) + "\n"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
