"""Echo state networks through the CLI: `rnnkit train` with train.method = "ridge", then eval."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks import build_task

SMALL = ["--task.train_steps=1500", "--task.valid_steps=800", "--task.test_steps=800", "--task.washout=100",
         "--model.hidden_size=60"]


@pytest.mark.parametrize("config", ["esn_mackey_glass", "esn_narma10"])
def test_train_ridge_then_eval(config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    run = tmp_path / "run"
    assert main(["train", str(root / "configs" / f"{config}.toml"), f"--out_dir={run}", *SMALL]) == 0
    assert (run / "model.safetensors").is_file() and (run / "config.toml").is_file()
    capsys.readouterr()
    assert main(["eval", str(run), "--split=test"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["nrmse"] < (0.05 if config == "esn_mackey_glass" else 0.6)      # 60 units: a smoke test
    if config == "esn_mackey_glass":
        assert math.isfinite(metrics["nrmse_84"]) and (run / "plots" / "closed_loop.png").is_file()


def test_gradient_method_is_refused_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    code = main(["train", str(root / "configs" / "esn_narma10.toml"), f"--out_dir={tmp_path / 'r'}",
                 "--train.method=gradient", "--train.iterations=1", *SMALL])
    assert code != 0 and 'train.method = "ridge"' in capsys.readouterr().err


@pytest.fixture(scope="module")
def mackey_glass_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(__file__).resolve().parents[1]
    run = tmp_path_factory.mktemp("esn") / "run"
    assert main(["train", str(root / "configs" / "esn_mackey_glass.toml"), f"--out_dir={run}", *SMALL,
                 "--train.plots=false"]) == 0
    return run


def test_generate_runs_closed_loop_and_writes_csv_and_png(mackey_glass_run: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from rnnkit.runs import load, read_config

    capsys.readouterr()
    assert main(["generate", str(mackey_glass_run), "--steps=30"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0] == "step,prediction,truth" and len(lines) == 31
    assert "NRMSE" in err and "at step 30" in err
    assert (mackey_glass_run / "generated.csv").read_text().strip().splitlines() == lines
    assert (mackey_glass_run / "generated.png").stat().st_size > 1000
    # The first free-running step is the teacher-forced prediction at the end of the warm-up.
    task, model = build_task(read_config(mackey_glass_run).task), load(mackey_glass_run).model
    test = task.load().test
    with torch.no_grad():
        forced, _ = model(test.inputs[:, :101])
    step, prediction, truth = (float(v) for v in lines[1].split(","))
    assert prediction == pytest.approx(float(forced[0, 100, 0]), abs=1e-12)
    assert truth == float(test.targets[0, 100, 0]) and abs(prediction - truth) < 0.05


def test_generate_on_a_fresh_series_and_errors(mackey_glass_run: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", str(mackey_glass_run), "--steps=2000", "--warmup=50", "--seed=3"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2001
    assert (mackey_glass_run / "generated-seed3.csv").is_file()
    assert main(["generate", str(mackey_glass_run), "--steps=2000"]) == 2        # longer than the test split
    assert "--seed" in capsys.readouterr().err
    (tmp_path / "narma").mkdir()
    config = (mackey_glass_run / "config.toml").read_text().replace('"mackey_glass"', '"narma10"')
    (tmp_path / "narma" / "config.toml").write_text(config)
    for name in ("model.safetensors", "meta.json"):
        (tmp_path / "narma" / name).write_bytes((mackey_glass_run / name).read_bytes())
    assert main(["generate", str(tmp_path / "narma"), "--steps=5"]) == 2
    assert "cannot run closed loop" in capsys.readouterr().err
    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "config.toml").write_text('[task]\nname = "sequence_classification"\npath = "x"\n')
    assert main(["generate", str(tmp_path / "cls")]) == 2
    assert "'sequence_classification' run, which cannot generate" in capsys.readouterr().err
