"""Echo state networks through the CLI: `rnnkit train` with train.method = "ridge", then eval."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rnnkit.cli import main

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
