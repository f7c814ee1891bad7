"""Data parallel: 2 CPU processes under torchrun (gloo) match 1 process with the same global batch.

Run under torchrun, this file trains OVERRIDES into the run directory given as its argument."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from rnnkit.runs import run
from rnnkit.runs.configs import load_config

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = ["--task.length=10", "--task.train_size=64", "--task.valid_size=32", "--model.hidden_size=8",
             "--train.batch_size=8", "--train.iterations=12", "--train.eval_every=6", "--train.plots=false",
             "--train.device=cpu", "--optim.lr=0.01", "--seed=2"]


def rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    two = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                            __file__, str(tmp_path / "two")], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = run(load_config(None, [*OVERRIDES, f"--out_dir={tmp_path / 'one'}"]))
    finally:
        torch.set_num_threads(threads)
    out, _ = two.communicate(timeout=300)
    assert two.returncode == 0, out
    assert out.count("done: iteration 12/12") == 1                     # rank 0 alone reports
    assert not (tmp_path / "two-2").exists()                           # one run directory for both ranks
    both = rows(tmp_path / "two")
    assert [r["iteration"] for r in both] == [r["iteration"] for r in rows(tmp_path / "one")]
    for a, b in zip(both, rows(tmp_path / "one")):
        for key in ("loss", "grad_norm", "mse"):
            if key in a:
                assert abs(a[key] - b[key]) <= 1e-5 * max(1.0, abs(b[key])), (a, b)
    assert abs(json.loads(json.dumps(one))["mse"] - both[-1]["mse"]) < 1e-5


if __name__ == "__main__":
    run(load_config(None, [*OVERRIDES, f"--out_dir={sys.argv[1]}"]))
