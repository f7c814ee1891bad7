"""A full disk and a read-only out_dir: one line naming the path and what to do, and the run's
last checkpoint left whole (both files from the same iteration)."""

from __future__ import annotations

import errno
import json
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from rnnkit.cli import main

SMALL = ["--task.length=8", "--task.train_size=32", "--task.valid_size=16", "--task.test_size=16",
         "--model.hidden_size=8", "--train.batch_size=8", "--train.eval_every=2", "--train.plots=false"]


def iterations(run_dir: Path) -> tuple[int, int]:
    """(iteration of model.safetensors, iteration of train_state.pt)."""
    with safe_open(str(run_dir / "model.safetensors"), framework="pt") as f:
        weights = int(f.metadata()["iteration"])
    return weights, torch.load(run_dir / "train_state.pt", weights_only=True)["iteration"]


@pytest.mark.parametrize("free", [0, 10 * 2**30])
def test_a_failed_checkpoint_write_keeps_the_last_pair_and_says_where(tmp_path, monkeypatch, capsys, free):
    run_dir = tmp_path / "run"
    assert main(["train", "configs/adding_lstm.toml", f"--out_dir={run_dir}", *SMALL, "--train.iterations=2"]) == 0
    assert iterations(run_dir) == (2, 2)
    save = torch.save

    def short_write(obj, f, *args, **kwargs):     # what torch's zip writer raises when the disk fills up
        save(obj, f, *args, **kwargs)
        raise RuntimeError("[enforce fail at inline_container.cc:778] . unexpected pos 401792 vs 401684")

    monkeypatch.setattr(torch, "save", short_write)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(free + 1, 1, free))
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--train.iterations=4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and f"{run_dir / 'train_state.pt'}: " in err
    if free == 0:
        assert "No space left on device; 0 MiB free there; free some space there or give another --out_dir" in err
    else:
        assert "write failed (" in err and "unexpected pos" in err
    assert iterations(run_dir) == (2, 2) and not list(run_dir.glob(".*.tmp"))   # the pair of iteration 2, whole
    monkeypatch.undo()
    assert main(["train", "--resume", str(run_dir), "--train.iterations=4"]) == 0
    assert iterations(run_dir) == (4, 4)
    assert json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["iteration"] == 4


def test_a_read_only_out_dir_is_one_line(tmp_path, monkeypatch, capsys):
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    assert main(["train", "configs/adding_lstm.toml", f"--out_dir={tmp_path / 'ro'}", *SMALL,
                 "--train.iterations=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"rnnkit train: error: {tmp_path / 'ro'}: Read-only file system; that file system is read-only: "
                   "give a writable --out_dir")


class Payload:
    def __reduce__(self):
        return (print, ("this ran",))


def test_a_pickled_train_state_is_refused_without_advice_to_unpickle_it(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "configs/adding_lstm.toml", f"--out_dir={run_dir}", *SMALL, "--train.iterations=2"]) == 0
    torch.save({"format_version": 2, "x": Payload()}, run_dir / "train_state.pt")
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir)]) == 2
    out, err = capsys.readouterr()
    assert "could run code when loaded; rnnkit never loads such a file" in err
    assert "weights_only" not in err and "this ran" not in out


def test_bytes_flipped_in_the_weights_are_an_error_not_a_silent_model(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "configs/adding_lstm.toml", f"--out_dir={run_dir}", *SMALL, "--train.iterations=2"]) == 0
    assert main(["eval", str(run_dir)]) == 0
    weights = run_dir / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x40                                   # inside the last tensor's bytes, past the header
    weights.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["eval", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.safetensors does not match the checksum written with it" in err
