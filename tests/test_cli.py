"""The rnnkit command line: train -> eval on a temporary directory, help, bad input."""

from __future__ import annotations

import json
import runpy
import sys

import pytest

from rnnkit.cli import COMMANDS, main

SMALL = ["--task.length=8", "--task.train_size=32", "--task.valid_size=16", "--task.test_size=16",
         "--model.hidden_size=8", "--train.batch_size=8", "--train.iterations=4", "--train.eval_every=2"]



def test_train_then_eval_then_replay(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "configs/adding_lstm.toml", f"--out_dir={run_dir}", "--seed", "3", *SMALL]) == 0
    assert (run_dir / "plots" / "train_loss.png").stat().st_size > 0 and (run_dir / "plots" / "valid_mse.png").exists()
    assert "done: iteration 4/4" in capsys.readouterr().out
    assert main(["eval", str(run_dir), "--split=test"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["split"] == "test" and result["mse"] >= 0
    assert main(["train", str(run_dir / "config.toml"), "--train.plots", "false"]) == 0    # replay
    replay = tmp_path / "run-2"
    lines = lambda d: [s for s in (d / "config.toml").read_text().splitlines()
                       if not s.startswith(("out_dir", "plots"))]
    assert lines(replay) == lines(run_dir) and f'out_dir = "{replay}"' in (replay / "config.toml").read_text()
    last = lambda d: [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()][-1]
    assert last(replay) == last(run_dir)
    assert main(["train", "--resume", str(run_dir), "--train.iterations=6"]) == 0          # extend
    assert last(run_dir)["iteration"] == 6


def test_a_resume_whose_model_settings_changed_leaves_the_run_as_it_was(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "configs/adding_lstm.toml", f"--out_dir={run_dir}", *SMALL, "--train.plots=false"]) == 0
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--model.hidden_size=16"]) == 2
    err = capsys.readouterr().err
    assert "does not fit the model these settings build" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    edited = (run_dir / "config.toml").read_text().replace("hidden_size = 8", "hidden_size = 12")
    (run_dir / "config.toml").write_text(edited)                       # a hand edit: refused the same way
    assert main(["train", "--resume", str(run_dir)]) == 2
    assert "head.weight is (1, 8) there, (1, 12) here" in capsys.readouterr().err
    (run_dir / "config.toml").write_bytes(before["config.toml"])
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
    assert main(["eval", str(run_dir)]) == 0 and main(["train", "--resume", str(run_dir), "--train.iterations=6"]) == 0


@pytest.mark.parametrize("argv, words", [
    (["train", "configs/adding_lstm.toml", "--train.iteratoins=5"], ["did you mean train.iterations"]),
    (["train", "configs/adding_lstm.toml", "--optim.lr=-0.1"], ["optim.lr must be > 0"]),
    (["train", "configs/adding_lstm.toml", "--seed=100000000000000000000"], ["seed must be an integer in [0, 2**63)"]),
    (["train", "configs/adding_lstm.toml", "--verbose"], ["unrecognised argument '--verbose'"]),
    (["train"], ["needs a CONFIG file or --resume RUN_DIR"]),
    (["train", "configs/adding_lstm.toml", "--train.bptt=500"], ["train.bptt = 500 is longer than the training"]),
    (["train", "configs/adding_lstm.toml", "--train.bptt=10"], ["truncated BPTT needs per-step targets"]),
    (["train", "configs/adding_lstm.toml", "--train.amp=fp16", "--train.device=cpu"], ["needs a CUDA device"]),
    (["train", "--resume", "no/such/run"], ["run directory 'no/such/run' does not exist"]),
    (["eval", "no/such/run"], ["does not exist"]),
])
def test_bad_input_is_one_line_and_exit_code_2(argv, words, capsys, tmp_path):
    if argv[1:2] == ["configs/adding_lstm.toml"]:
        argv = [*argv, f"--out_dir={tmp_path / 'run'}"]
    assert main(argv) == 2
    assert not (tmp_path / "run").exists()                                 # nothing written
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"rnnkit {argv[0]}: error:")
    for word in words:
        assert word in err


def test_help_shows_an_example_per_command(capsys, monkeypatch):
    for command in COMMANDS:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "examples:" in out and f"rnnkit {command} " in out
    with pytest.raises(SystemExit) as done:                                 # python -m rnnkit
        monkeypatch.setattr(sys, "argv", ["rnnkit", "--help"])
        runpy.run_module("rnnkit", run_name="__main__")
    out = capsys.readouterr().out
    assert done.value.code == 0 and all(command in out for command in COMMANDS)


def test_an_empty_config_file_is_refused(tmp_path, capsys):
    (tmp_path / "empty.toml").write_text("# nothing yet\n")
    assert main(["train", str(tmp_path / "empty.toml"), f"--out_dir={tmp_path / 'run'}"]) == 2
    assert "empty.toml is empty (or only comments)" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_two_trainings_started_on_one_out_dir_at_once_get_a_directory_each(tmp_path):
    import subprocess

    out = tmp_path / "run"
    command = [sys.executable, "-m", "rnnkit", "train", "configs/adding_lstm.toml", f"--out_dir={out}", *SMALL,
               "--train.plots=false"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    for run_dir in (out, tmp_path / "run-2"):                  # each run whole, none interleaved
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        assert [r["iteration"] for r in rows if r["split"] == "train"] == [1, 2, 3, 4]
        assert (run_dir / "model.safetensors").is_file() and (run_dir / ".owner").is_file()
    # a directory another process has claimed but not yet written its config into is not taken over
    claimed = tmp_path / "claimed"
    claimed.mkdir()
    (claimed / ".owner").write_text("pid 1\n")
    assert main(["train", "configs/adding_lstm.toml", f"--out_dir={claimed}", *SMALL, "--train.plots=false"]) == 0
    assert not (claimed / "config.toml").exists() and (tmp_path / "claimed-2" / "config.toml").is_file()
