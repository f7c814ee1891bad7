"""Resume exactly after SIGKILL, checkpoint on SIGINT, atomic files, bad run directories.

Run as a script, this file trains the stateful stream task below into RUN_DIR (the
subprocesses the tests start and kill): python tests/test_train_resume.py RUN_DIR fresh|resume
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.config import ModelConfig
from rnnkit.data.batch import Batch, Splits
from rnnkit.io.fields import ConfigError
from rnnkit.io.files import atomic_write
from rnnkit.models.stack import build_rnn
from rnnkit.runs import load, run, seed_everything
from rnnkit.runs.configs import load_config
from rnnkit.train import log as train_log
from rnnkit.train.checkpoint import STATE_FILE, WEIGHTS_FILE, CheckpointError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


@dataclass(frozen=True)
class Stream:
    """Stateful streams with per-step targets y_t = x_{t-2, 0} * x_{t-1, 1}: exercises carried
    state, random chunk lengths (positions inside a batch), dropout RNG and epochs."""

    carries_state = True

    def load(self) -> Splits:
        x = torch.randn(8, 300, 2, generator=torch.Generator().manual_seed(0))
        y = torch.zeros(8, 300)
        y[:, 2:] = x[:, :-2, 0] * x[:, 1:-1, 1]
        return Splits(Batch(x, y), Batch(x[:, :100], y[:, :100]))

    def build_model(self, cfg: ModelConfig, data: Splits) -> nn.Module:
        return nn.ModuleDict({"rnn": build_rnn(cfg, 2), "head": nn.Linear(cfg.hidden_size, 1)})

    def loss(self, model, batch, state):
        y, state = model["rnn"](batch.inputs, state)
        return F.mse_loss(model["head"](y)[..., 0], batch.targets), state

    def evaluate(self, model, batches):
        batch = next(iter(batches))
        return {"mse": self.loss(model, batch, None)[0].item()}


def script(run_dir: str, mode: str) -> None:
    torch.set_num_threads(1)
    cfg = load_config(None, ["--train.iterations=120", "--train.bptt=10", "--train.random_bptt=true",
                             "--train.checkpoint_every=3", "--train.eval_every=50", "--train.plots=false",
                             "--model.num_layers=2", "--model.hidden_size=16", "--model.dropout=0.2",
                             "--optim.schedule=cosine", "--optim.warmup=10", "--optim.lr=0.01", "--seed=4"])
    seed_everything(cfg.seed)
    task = Stream()
    data = task.load()
    model = task.build_model(cfg.model, data)
    Path(run_dir).mkdir(exist_ok=True)
    from rnnkit.train import fit

    metrics = fit(model, task, data, cfg, run_dir=run_dir, resume=mode == "resume")
    (Path(run_dir) / "final.json").write_text(json.dumps(metrics))


def start(run_dir: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, str(run_dir), mode], env=ENV, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def valid_rows(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == "valid"]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run_dir / WEIGHTS_FILE))


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    victim = start(killed, "fresh")
    deadline = time.time() + 120
    while not (killed / STATE_FILE).exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(random.uniform(0.0, 0.3))                       # a random moment after the first checkpoint
    assert victim.poll() is None, f"the run ended before it could be killed: {victim.stderr.read()}"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (killed / "final.json").exists()
    resumed = start(killed, "resume")
    script(str(whole), "fresh")                                # the uninterrupted run, meanwhile, in here
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert json.loads((killed / "final.json").read_text()) == json.loads((whole / "final.json").read_text())
    assert valid_rows(killed) == valid_rows(whole)             # bit-exact on CPU, the log included
    for name, value in weights(whole).items():
        assert torch.equal(value, weights(killed)[name]), name
    assert not list(killed.glob(".*.tmp"))


def small(tmp_path: Path, *overrides: str):
    return load_config(None, ["--task.length=8", "--task.train_size=32", "--task.valid_size=16",
                              "--task.test_size=16", "--model.hidden_size=8", "--train.batch_size=8",
                              "--train.iterations=4", "--train.eval_every=2", "--train.plots=false",
                              f"--out_dir={tmp_path / 'run'}", *overrides])



def test_sigint_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "rnnkit", "train", "configs/adding_lstm.toml",
                                f"--out_dir={run_dir}", "--train.iterations=100000", "--train.plots=false",
                                "--task.length=10", "--model.hidden_size=8"],
                               env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run_dir / "metrics.jsonl").exists() or not (run_dir / "metrics.jsonl").stat().st_size:
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted at iteration" in err and "resume with" in out
    iteration = int(err.split("interrupted at iteration ")[1].split(";")[0])
    state = torch.load(run_dir / STATE_FILE, weights_only=True)
    assert state["iteration"] == iteration > 0
    metrics = run(resume=run_dir, overrides=[f"--train.iterations={iteration + 2}"])
    assert set(metrics) == {"mse"}


def test_a_sigint_while_the_run_finishes_lets_it_finish(tmp_path, monkeypatch):
    """A time limit's SIGINT that lands after the last iteration, while the curves are drawn (the
    main job's `timeout -s INT`), must not leave a traceback and a run without its plots."""
    drawn = []

    def plot_then_interrupted(folder, rows):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)                               # the handler runs here: before the fix, KeyboardInterrupt
        drawn.append(folder)

    monkeypatch.setattr(train_log, "plot_curves", plot_then_interrupted)
    # what was there before: Python's default_int_handler, or SIG_IGN where the tests were started in
    # the background by a non-interactive shell (which ignores SIGINT for its & jobs)
    before = signal.getsignal(signal.SIGINT)
    try:
        metrics = run(small(tmp_path, "--train.plots=true"))
    except KeyboardInterrupt:                           # not raised on: it would end the whole session
        pytest.fail("a SIGINT while the run finished raised KeyboardInterrupt")
    assert set(metrics) == {"mse"} and drawn == [tmp_path / "run" / "plots"]
    assert signal.getsignal(signal.SIGINT) is before                            # the handler is put back


def test_bad_run_directories_get_clear_errors_and_are_never_destroyed(tmp_path):
    cfg = small(tmp_path)
    run(cfg)
    run_dir = tmp_path / "run"
    files = sorted(p.name for p in run_dir.iterdir())
    assert {"config.toml", STATE_FILE, WEIGHTS_FILE, "metrics.jsonl", "metrics.csv"} <= set(files)
    load(run_dir)                                            # a finished run loads
    run(cfg)                                                 # the same out_dir again: a new directory
    assert (tmp_path / "run-2" / STATE_FILE).exists() and sorted(p.name for p in run_dir.iterdir()) == files

    state = (run_dir / STATE_FILE).read_bytes()
    (run_dir / STATE_FILE).write_bytes(state[: len(state) // 2])
    with pytest.raises(CheckpointError, match="corrupted or unreadable.*left untouched"):
        run(resume=run_dir)
    (run_dir / STATE_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupted"):
        run(resume=run_dir)
    (run_dir / STATE_FILE).unlink()
    with pytest.raises(CheckpointError, match="has no train_state.pt, so there is nothing to resume"):
        run(resume=run_dir)
    (run_dir / WEIGHTS_FILE).write_bytes(b"\x00" * 20)
    with pytest.raises(CheckpointError, match="model.safetensors is corrupted"):
        load(run_dir)
    with pytest.raises(CheckpointError, match="does not exist"):
        load(tmp_path / "nowhere")
    config = run_dir / "config.toml"
    config.write_text(config.read_text().replace("format_version = 1", "format_version = 7"))
    with pytest.raises(ConfigError, match="format_version 7 but this rnnkit reads format 1"):
        load(run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == [f for f in files if f != STATE_FILE]  # nothing else gone


def test_incompatible_checkpoint_format(tmp_path):
    run(small(tmp_path))
    path = tmp_path / "run" / STATE_FILE
    state = torch.load(path, weights_only=True)
    torch.save({**state, "format_version": 0}, path)
    with pytest.raises(CheckpointError, match="checkpoint format 0, but this rnnkit reads format 2"):
        run(resume=tmp_path / "run")


def test_atomic_write_never_leaves_a_half_written_file(tmp_path, monkeypatch):
    path = tmp_path / "file"
    path.write_text("old")

    def half(tmp: Path) -> None:
        tmp.write_text("new, half")
        raise OSError("killed mid-write")

    with pytest.raises(OSError):
        atomic_write(path, half)
    assert path.read_text() == "old" and not list(tmp_path.glob(".*.tmp"))
    monkeypatch.setattr(os, "replace", lambda *args: (_ for _ in ()).throw(OSError("crash before rename")))
    with pytest.raises(OSError):
        atomic_write(path, lambda tmp: tmp.write_text("new"))
    assert path.read_text() == "old" and not list(tmp_path.glob(".*.tmp"))


def die_at(moment: str, count: int) -> None:
    """Makes this process vanish (os._exit, as SIGKILL would: no cleanup, no finally) at the
    `count`-th call of os.fsync (a checkpoint file written, its partner perhaps not) or os.replace
    (before that rename: between the weights' rename and the state's, or before both)."""
    real, calls = getattr(os, moment), [0]

    def fatal(*args, **kwargs):
        calls[0] += 1
        if calls[0] == count:
            os._exit(137)
        return real(*args, **kwargs)

    setattr(os, moment, fatal)


def test_a_kill_while_a_checkpoint_is_written_resumes_to_the_same_end(tmp_path):
    whole = tmp_path / "whole"
    script(str(whole), "fresh")
    rng = random.Random(7)
    for moment in ("fsync", "replace", "fsync", "replace"):
        killed = tmp_path / f"killed-{moment}-{rng.random():.6f}"
        count = rng.randint(3, 60)
        victim = subprocess.run([sys.executable, __file__, str(killed), "fresh", f"{moment}:{count}"], env=ENV,
                                cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert victim.returncode == 137, victim.stderr
        resumed = start(killed, "resume")
        assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
        assert json.loads((killed / "final.json").read_text()) == json.loads((whole / "final.json").read_text())
        assert valid_rows(killed) == valid_rows(whole), (moment, count)
        for name, value in weights(whole).items():
            assert torch.equal(value, weights(killed)[name]), (moment, count, name)
        assert not list(killed.glob(".*.tmp"))


if __name__ == "__main__":
    if len(sys.argv) > 3:                                  # the fault test: vanish at one moment of a write
        moment, count = sys.argv[3].split(":")
        die_at(moment, int(count))
    script(sys.argv[1], sys.argv[2])
