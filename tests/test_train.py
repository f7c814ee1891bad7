"""fit(): optimisers, truncated BPTT, clipping, schedules, accumulation, non-finite losses,
early stopping, determinism."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit
from rnnkit.cells import ElmanCell
from rnnkit.config import RunConfig
from rnnkit.data.batch import Batch, Splits
from rnnkit.layers import Readout, Recurrent
from rnnkit.runs.configs import load_config
from rnnkit.tasks import build_task
from rnnkit.train import NTASGD, OPTIMIZERS, NonFiniteError, fit, make_optimizer, make_schedule
from rnnkit.train.loop import Progress, update
from rnnkit.train.optim import after_evaluation, averaged
from rnnkit.train.tbptt import chunk_sizes, split_time


@dataclass(frozen=True)
class Echo:
    """Test-only stream task: predict the input of `delay` steps ago, per step, on parallel streams
    (carries_state: the state flows across chunks and batches)."""

    streams: int = 4
    steps: int = 24
    delay: int = 2
    carries_state: bool = True
    nan_at: int = 0                      # > 0: the loss becomes nan from this call on
    calls: list = None                   # counts loss calls when given a list

    def load(self) -> Splits:
        x = torch.randn(self.streams, self.steps, 1, generator=torch.Generator().manual_seed(0))
        y = torch.roll(x[..., 0], self.delay, dims=1)
        y[:, :self.delay] = 0
        return Splits(Batch(x, y), Batch(x, y))

    def build_model(self, cfg, data) -> nn.Module:
        return Recurrent(ElmanCell(1, 8), readout=Readout(8, 1))

    def loss(self, model, batch, state):
        y, state = model(batch.inputs, state)
        loss = F.mse_loss(y[..., 0], batch.targets)
        if self.calls is not None:
            self.calls.append(1)
            if self.nan_at and len(self.calls) >= self.nan_at:
                loss = loss * float("nan")
        return loss, state

    def evaluate(self, model, batches) -> dict[str, float]:
        losses = [F.mse_loss(model(batch.inputs)[0][..., 0], batch.targets).item() for batch in batches]
        return {"mse": sum(losses) / len(losses)}



def config(*overrides: str) -> RunConfig:
    return load_config(None, ["--train.eval_every=0", "--train.plots=false", "--train.log_every=1000",
                              *overrides])


def test_chunk_sizes():
    assert chunk_sizes(10, 0) == [10] and chunk_sizes(10, 4) == [4, 4, 2] and chunk_sizes(10, 20) == [10]
    sizes = chunk_sizes(1000, 20, rng=random.Random(0))
    assert sum(sizes) == 1000 and min(sizes[:-1]) >= 5 and 15 < sum(sizes) / len(sizes) < 21
    x = torch.arange(10.0).view(1, 10, 1)
    chunks = split_time(Batch(x, x[..., 0], lengths=torch.tensor([7])), [4, 4, 2])
    assert [c.lengths.item() for c in chunks] == [4, 3, 0]
    with pytest.raises(ValueError, match="per-step targets"):
        split_time(Batch(x, torch.zeros(1)), 4)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimiser_overfits_a_tiny_batch(name):
    lr = {"sgd": 0.3, "momentum": 0.1, "adadelta": 1.0, "asgd": 0.3, "ntasgd": 0.3, "adagrad": 0.1}.get(name, 0.02)
    cfg = config(f"--optim.name={name}", f"--optim.lr={lr}", "--train.iterations=150", "--train.batch_size=8",
                 "--task.length=6", "--task.train_size=8", "--task.valid_size=8", "--model.hidden_size=16")
    torch.manual_seed(0)
    task = build_task(cfg.task)
    data = Splits(task.load().train, task.load().train)         # validate on the training batch itself
    model = task.build_model(cfg.model, data)
    before = F.mse_loss(model(data.train.inputs)[0].squeeze(1), data.train.targets).item()
    after = fit(model, task, data, cfg)["mse"]
    assert after < 0.1 * before, (name, before, after)


def test_truncated_bptt_gradient_equals_a_manually_detached_unroll():
    task, lr = Echo(streams=2, steps=12), 1.0
    cfg = config("--train.iterations=1", "--train.bptt=4", "--train.accumulate=3", "--optim.name=sgd",
                 f"--optim.lr={lr}")
    torch.manual_seed(0)
    model = task.build_model(None, None).double()
    data = task.load()
    data = Splits(Batch(data.train.inputs.double(), data.train.targets.double()), data.valid)
    x, y = data.train.inputs, data.train.targets
    reference = Recurrent(ElmanCell(1, 8), readout=Readout(8, 1)).double()
    reference.load_state_dict(model.state_dict())
    state, total = None, 0.0
    for start in range(0, 12, 4):                           # three chunks, state detached between them
        out, state = reference(x[:, start:start + 4], state)
        total = total + F.mse_loss(out[..., 0], y[:, start:start + 4]) / 3
        state = tuple(s.detach() for s in state)
    total.backward()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    progress = Progress()
    chunks = (c for c in [(chunk, i == 0, (0, 0, i + 1)) for i, chunk in enumerate(split_time(data.train, 4))])
    optimizer = make_optimizer(model, cfg.optim)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    update(model, task, chunks, optimizer, make_schedule(optimizer, cfg.optim, 1), scaler, cfg.train, progress,
           torch.device("cpu"))
    for name, p in reference.named_parameters():
        torch.testing.assert_close(before[name] - lr * p.grad, model.state_dict()[name])
    assert progress.state[0].grad_fn is None and progress.position == (0, 0, 3)


def test_state_is_carried_across_chunks_and_batches():
    seen = []

    class Watch(Echo):
        def loss(self, model, batch, state):
            seen.append(state is None)
            return super().loss(model, batch, state)

    task = Watch(streams=2, steps=12)
    fit(task.build_model(None, None), task, task.load(), config("--train.iterations=6", "--train.bptt=4"))
    assert seen == [True, False, False, True, False, False]   # fresh at each epoch of the stream only


def test_clipping_bounds_the_norm_and_the_values():
    task = Echo()
    for flag, check in (("--train.clip=0.01", lambda g: torch.linalg.vector_norm(torch.cat(g)) <= 0.01 + 1e-6),
                        ("--train.clip_value=0.001", lambda g: torch.cat(g).abs().max() <= 0.001)):
        cfg = config("--train.iterations=1", flag, "--optim.name=sgd")
        torch.manual_seed(0)
        model = task.build_model(None, None)
        optimizer = make_optimizer(model, cfg.optim)
        progress = Progress()
        chunks = iter([(task.load().train, True, (0, 1, 0))])
        _, norm, _ = update(model, task, chunks, optimizer, make_schedule(optimizer, cfg.optim, 1),
                            torch.amp.GradScaler("cpu", enabled=False), cfg.train, progress, torch.device("cpu"))
        grads = [p.grad.flatten() for p in model.parameters()]
        assert norm > 0.01 and check(grads)


def test_gradient_accumulation_equals_one_big_batch():
    task = Echo(streams=8)
    grads = []
    for accumulate, parts in ((1, 1), (2, 2)):
        cfg = config("--train.iterations=1", f"--train.accumulate={accumulate}", "--optim.name=sgd")
        torch.manual_seed(0)
        model = task.build_model(None, None)
        data = task.load().train
        pieces = [data.select(slice(i * 8 // parts, (i + 1) * 8 // parts)) for i in range(parts)]
        optimizer = make_optimizer(model, cfg.optim)
        update(model, task, iter([(p, True, (0, 0, 0)) for p in pieces]), optimizer,
               make_schedule(optimizer, cfg.optim, 1), torch.amp.GradScaler("cpu", enabled=False), cfg.train,
               Progress(), torch.device("cpu"))
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    torch.testing.assert_close(grads[0], grads[1])


def test_non_finite_loss_stops_naming_the_iteration_or_is_skipped():
    task = Echo(nan_at=3, calls=[])
    with pytest.raises(NonFiniteError, match="non-finite loss at iteration 3; last good checkpoint: none"):
        fit(task.build_model(None, None), task, task.load(), config("--train.iterations=5"))
    task = Echo(nan_at=3, calls=[])
    model = task.build_model(None, None)
    metrics = fit(model, task, task.load(), config("--train.iterations=5", "--train.on_nonfinite=skip"))
    assert math.isnan(metrics["mse"]) is False and all(torch.isfinite(p).all() for p in model.parameters())


def test_same_seed_same_metrics_and_bptt_longer_than_the_data():
    results = []
    for _ in range(2):
        torch.manual_seed(5)
        task = Echo()
        cfg = config("--train.iterations=8", "--train.bptt=5", "--train.random_bptt=true", "--model.dropout=0.2")
        results.append(fit(task.build_model(None, None), task, task.load(), cfg))
    assert results[0] == results[1]
    with pytest.raises(ValueError, match=r"train.bptt = 30 is longer than the training sequences \(24 steps\)"):
        fit(task.build_model(None, None), task, task.load(), config("--train.bptt=30"))


def test_bf16_autocast_on_cpu_carries_state_and_epochs_become_iterations():
    task = Echo()
    metrics = fit(task.build_model(None, None), task, task.load(),
                  config("--train.iterations=6", "--train.bptt=8", "--train.amp=bf16"))
    assert math.isfinite(metrics["mse"])
    from rnnkit.train.loop import total_iterations

    assert total_iterations(config("--train.epochs=2", "--train.bptt=8").train, task.load(), task) == 6


def test_early_stopping_and_the_on_eval_hook():
    calls = []

    class Worse(Echo):
        def evaluate(self, model, batches):
            return {"score": float(len(calls))}                       # gets worse every time

    task = Worse()
    fit(task.build_model(None, None), task, task.load(),
        config("--train.iterations=100", "--train.eval_every=1", "--train.patience=2"),
        on_eval=lambda iteration, metrics: calls.append((iteration, metrics)))
    assert [i for i, _ in calls] == [1, 2, 3]


def test_schedules_and_weight_decay_groups():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    cfg = config("--optim.weight_decay=0.1", "--optim.schedule=cosine", "--optim.warmup=2", "--optim.lr=1")
    optimizer = make_optimizer(model, cfg.optim)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    assert [len(g["params"]) for g in optimizer.param_groups] == [1, 3]      # weight | bias, norm gain + bias
    schedule, lrs = make_schedule(optimizer, cfg.optim, 10), []
    for _ in range(10):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert lrs[:3] == [0.5, 1.0, 1.0] and lrs[-1] < 0.05 and lrs == sorted(lrs[:2]) + sorted(lrs[2:], reverse=True)
    cfg = config("--optim.schedule=plateau", "--optim.plateau_patience=1", "--optim.lr=1", "--optim.gamma=0.5")
    optimizer = make_optimizer(model, cfg.optim)
    schedule = make_schedule(optimizer, cfg.optim, 10)
    for value in (1.0, 2.0, 2.0):
        after_evaluation(optimizer, schedule, value)
    assert optimizer.param_groups[0]["lr"] == 0.5


def test_ntasgd_switches_to_averaging_when_validation_stops_improving():
    p = nn.Parameter(torch.zeros(2))
    optimizer = NTASGD([p], 0.1, nonmono=2)
    for value in (5.0, 4.0, 3.0, 3.5):
        optimizer.observe(value)
    assert not optimizer.averaging                                   # 3.5 beats min of the early values
    optimizer.observe(6.0)
    assert optimizer.averaging
    for target in (1.0, 3.0):
        p.grad = torch.full((2,), -target / 0.1)                    # one step moves p by +target
        optimizer.step()
    torch.testing.assert_close(p.detach(), torch.full((2,), 4.0))
    with averaged(optimizer):
        torch.testing.assert_close(p.detach(), torch.full((2,), 2.5))    # mean of the iterates 1 and 4
    torch.testing.assert_close(p.detach(), torch.full((2,), 4.0))
    state = optimizer.state_dict()
    fresh = NTASGD([nn.Parameter(torch.zeros(2))], 0.1, nonmono=2)
    fresh.load_state_dict(state)
    assert fresh.averaging and fresh.history == optimizer.history


def test_tensorboard_events_when_tensorboard_is_installed(tmp_path):
    pytest.importorskip("torch.utils.tensorboard")
    from rnnkit.runs import run

    run(config("--task.length=6", "--task.train_size=16", "--train.batch_size=8", "--train.iterations=2",
               "--model.hidden_size=4", f"--out_dir={tmp_path}"))
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("amp", ["none", "bf16", "fp16"])
def test_cuda_with_autocast(amp, tmp_path):
    task = Echo()
    model = task.build_model(None, None)
    metrics = fit(model, task, task.load(), config("--train.iterations=6", "--train.bptt=8", "--train.device=cuda",
                                                   f"--train.amp={amp}"), run_dir=tmp_path / "run")
    assert math.isfinite(metrics["mse"]) and next(model.parameters()).is_cuda
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_delayed_step_schedule_is_zarembas():
    """step_start delays the step decay: lr 1 for 3 'epochs' of 2 iterations, then halves each epoch."""
    model = nn.Linear(2, 2)
    cfg = config("--optim.name=sgd", "--optim.lr=1", "--optim.schedule=step", "--optim.gamma=0.5",
                 "--optim.step_size=2", "--optim.step_start=6")
    optimizer = make_optimizer(model, cfg.optim)
    schedule, lrs = make_schedule(optimizer, cfg.optim, 12), []
    for _ in range(12):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert lrs == [1.0] * 8 + [0.5, 0.5, 0.25, 0.25]


@dataclass(frozen=True)
class EchoWithPlot(Echo):
    fail: bool = False

    def plot(self, model, data, folder):
        if self.fail:
            raise RuntimeError("no display")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "task.png").write_bytes(b"png")


def test_the_tasks_plot_is_drawn_at_the_end_and_a_failing_one_costs_nothing(tmp_path, capsys):
    task = EchoWithPlot()
    cfg = config("--train.iterations=2", "--train.plots=true", "--train.bptt=6")
    fit(task.build_model(cfg.model, None), task, task.load(), cfg, run_dir=tmp_path / "a")
    assert (tmp_path / "a" / "plots" / "task.png").exists()
    fit(task.build_model(cfg.model, None), EchoWithPlot(fail=True), task.load(), cfg, run_dir=tmp_path / "b")
    assert "could not draw the task's plot" in capsys.readouterr().out
    assert (tmp_path / "b" / "model.safetensors").exists() and (tmp_path / "b" / "train_state.pt").exists()
    fit(task.build_model(cfg.model, None), task, task.load(), config("--train.iterations=2"), run_dir=tmp_path / "c")
    assert not (tmp_path / "c" / "plots" / "task.png").exists()                       # plots = false


def test_restore_best_ends_with_the_best_validated_weights_even_across_a_resume(tmp_path):
    from rnnkit.train.checkpoint import BEST_FILE, STATE_FILE, load_weights, read_state

    scores = iter([3.0, 1.0, 2.0, 5.0, 4.0])                       # best at the second evaluation

    class Scripted(Echo):
        def evaluate(self, model, batches):
            return {"score": next(scores)}

    task, snapshots = Scripted(), {}
    remember = lambda iteration, metrics: snapshots.__setitem__(iteration, {
        k: v.clone() for k, v in model.state_dict().items()})
    model = task.build_model(None, None)
    run = tmp_path / "run"
    run.mkdir()
    cfg = config("--train.iterations=3", "--train.eval_every=1", "--train.restore_best=true", "--optim.lr=0.1")
    fit(model, task, task.load(), cfg, run_dir=run, on_eval=remember)
    assert (run / BEST_FILE).is_file()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, snapshots[2][k], rtol=0, atol=0)         # iteration 2's, not 3's
        assert not torch.equal(v, snapshots[3][k]) or "bias" in k
    on_disk = load_weights(task.build_model(None, None), run)
    for k, v in on_disk.state_dict().items():
        torch.testing.assert_close(v, snapshots[2][k], rtol=0, atol=0)
    for k, v in read_state(run)["model"].items():                          # the resume state is the last
        torch.testing.assert_close(v, snapshots[3][k], rtol=0, atol=0)
    # resumed for two more iterations that validate worse: the best from before the resume wins
    resumed = task.build_model(None, None)
    model = resumed
    fit(resumed, task, task.load(), config("--train.iterations=5", "--train.eval_every=1",
                                           "--train.restore_best=true", "--optim.lr=0.1"),
        run_dir=run, resume=True, on_eval=remember)
    assert read_state(run)["iteration"] == 5 and (run / STATE_FILE).is_file()
    for k, v in resumed.state_dict().items():
        torch.testing.assert_close(v, snapshots[2][k], rtol=0, atol=0)
    # without restore_best the last weights stay
    scores = iter([1.0, 2.0])
    model = task.build_model(None, None)
    fit(model, task, task.load(), config("--train.iterations=2", "--train.eval_every=1", "--optim.lr=0.1"),
        on_eval=remember)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, snapshots[2][k], rtol=0, atol=0)


def test_throughput_counts_real_steps_not_padding():
    task = Echo()
    data = task.load()
    model = task.build_model(None, None)
    cfg = config()
    optimizer = make_optimizer(model, cfg.optim)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    run = lambda batch: update(model, task, iter([(batch, True, (0, 0, 1))]), optimizer,
                               make_schedule(optimizer, cfg.optim, 1), scaler, cfg.train, Progress(),
                               torch.device("cpu"))[2]
    assert run(data.train) == 4 * 24                                     # no lengths: every step counts
    padded = Batch(data.train.inputs, data.train.targets, lengths=torch.tensor([24, 10, 3, 1]))
    assert run(padded) == 24 + 10 + 3 + 1


def test_eval_every_epochs_evaluates_at_each_epoch_boundary(tmp_path):
    run_dir = tmp_path / "run"
    overrides = ["--train.plots=false", "--train.batch_size=4", "--model.hidden_size=4", "--task.train_size=16",
                 "--task.valid_size=8", "--task.test_size=8", "--task.length=6"]
    overrides += ["--train.epochs=4", "--train.eval_every_epochs=2", "--train.baselines=false", f"--out_dir={run_dir}"]
    rnnkit.run(rnnkit.load_config("configs/adding_lstm.toml", overrides))
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows if "mse" in r] == [8, 16]          # 16 examples / 4 per batch = 4 per epoch
    with pytest.raises(rnnkit.io.fields.ConfigError, match="eval_every_epochs needs train.epochs"):
        rnnkit.load_config("configs/adding_lstm.toml", ["--train.eval_every_epochs=1"])
