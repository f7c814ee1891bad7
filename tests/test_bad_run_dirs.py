"""Every command that reads a run directory, on every kind of broken one (issue #19): exit status
2, one line on stderr naming what is wrong, no traceback, and the directory left exactly as it was.
And every training command on every kind of broken data path: the same, and no run directory made."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from rnnkit.cli import main

SMALL = ["--task.length=8", "--task.train_size=32", "--task.valid_size=16", "--task.test_size=16",
         "--model.hidden_size=8", "--train.batch_size=8", "--train.iterations=2", "--train.eval_every=2",
         "--train.plots=false"]

# each command as it is given a run directory (its other arguments valid)
COMMANDS = {
    "eval": lambda run: ["eval", run],
    "eval --baselines": lambda run: ["eval", run, "--split=test", "--baselines"],
    "train --resume": lambda run: ["train", "--resume", run],
    "classify eval": lambda run: ["classify", "eval", run],
    "classify predict": lambda run: ["classify", "predict", run, "a fine film"],
    "forecast predict": lambda run: ["forecast", "predict", run],
    "generate": lambda run: ["generate", run, "--tokens=3"],
    "similar": lambda run: ["similar", run, "king"],
    "translate": lambda run: ["translate", run, "hello"],
    "transcribe": lambda run: ["transcribe", run, "--split=test"],
}


def breakage(kind: str, good: Path, where: Path) -> Path:
    """A broken copy of the run `good` (or no run at all) at `where`."""
    if kind == "missing":
        return where / "no-such-run"
    if kind == "a file":
        (where / "file").write_text("not a run\n")
        return where / "file"
    run = where / "run"
    shutil.copytree(good, run)
    if kind == "empty folder":
        shutil.rmtree(run)
        run.mkdir()
    elif kind == "garbage config":
        (run / "config.toml").write_bytes(b"\x00\xff[task\nname = ")
    elif kind == "no config":
        (run / "config.toml").unlink()
    elif kind == "garbage meta":
        (run / "meta.json").write_text("{not json")
    elif kind == "no meta":
        (run / "meta.json").unlink()
    elif kind == "truncated weights":
        data = (run / "model.safetensors").read_bytes()
        (run / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif kind == "no weights":
        (run / "model.safetensors").unlink()
    elif kind == "garbage state":
        (run / "train_state.pt").write_bytes(b"PK\x03\x04 not a zip")
    return run


KINDS = ["missing", "a file", "empty folder", "garbage config", "no config", "garbage meta", "no meta",
         "truncated weights", "no weights", "garbage state"]


def fingerprint(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("good") / "run"
    assert main(["train", "configs/adding_lstm.toml", f"--out_dir={run}", *SMALL]) == 0
    return run


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_broken_run_directory_is_one_line_and_left_as_it_was(good_run, tmp_path, capsys, command, kind):
    run = breakage(kind, good_run, tmp_path)
    if command == "train --resume" and kind in ("no weights", "truncated weights"):
        pytest.skip("a resume reads train_state.pt, which is intact here, and rewrites the weights")
    before = fingerprint(run)
    capsys.readouterr()
    code = main(COMMANDS[command](str(run)))
    err = capsys.readouterr().err.strip()
    # only a resume reads train_state.pt: with it broken, the other commands may still do their job
    assert code == 2 or (kind == "garbage state" and command != "train --resume" and code == 0), (command, kind, err)
    if code:
        assert len(err.splitlines()) == 1 and "Traceback" not in err and err.startswith("rnnkit "), err
    assert fingerprint(run) == before


BAD_DATA = {
    "missing": lambda where: where / "none.csv",
    "empty": lambda where: write(where / "empty.csv", b""),
    "garbage": lambda where: write(where / "junk.csv", bytes(range(256)) * 4),
    "a folder of nothing": lambda where: (where / "nothing").mkdir() or where / "nothing",
}
TRAINING = {                                        # config, the key of its data path
    "text classification": ("configs/classify_text_scratch.toml", "task.path"),
    "sequence classification": ("configs/classify_sequences.toml", "task.path"),
    "forecasting": ("configs/forecast.toml", "task.data"),
    "language model": ("configs/lm_word.toml", "task.path"),
    "translation": ("configs/translate.toml", "task.path"),
    "speech": ("configs/speech.toml", "task.path"),
    "echo state network": ("configs/esn_series.toml", "task.series"),
}


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("bad", list(BAD_DATA))
@pytest.mark.parametrize("application", list(TRAINING))
def test_broken_training_data_is_one_line_and_makes_no_run(tmp_path, capsys, application, bad):
    config, key = TRAINING[application]
    data = BAD_DATA[bad](tmp_path)
    out = tmp_path / "run"
    code = main(["train", config, f"--{key}={data}", f"--out_dir={out}"])
    err = capsys.readouterr().err.strip()
    assert code == 2, (application, bad, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not out.exists()
