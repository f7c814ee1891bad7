"""The README's Deploy snippet runs as written (paths pointed at a tiny character model): ONNX
Runtime alone generates text from a streaming export, one token a call, the state kept by the caller."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rnnkit
from rnnkit.cli import main

pytest.importorskip("onnxruntime")

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = "ROMEO: to be or not to be that is the question\nJULIET: whether tis nobler in the mind to suffer\n" * 60


def snippet() -> str:
    deploy = README.read_text(encoding="utf-8").split("## Deploy", 1)[1]
    return re.search(r"```python\n(.*?)```", deploy, flags=re.S).group(1)


def test_the_readme_generates_with_onnxruntime_alone(tmp_path, capsys, monkeypatch):
    (tmp_path / "corpus.txt").write_text(TEXT)
    run = tmp_path / "runs" / "main"
    rnnkit.run(rnnkit.load_config("configs/shakespeare_char.toml", [
        f"--task.path={tmp_path / 'corpus.txt'}", "--task.embedding_size=8", "--task.batch_size=4",
        "--task.eval_batch_size=2", "--task.eval_bptt=20", "--model.hidden_size=8", "--train.epochs=0",
        "--train.iterations=2", "--train.bptt=5", "--train.eval_every=0", "--train.plots=false",
        "--train.baselines=false", f"--out_dir={run}"]))
    assert main(["export", str(run), "--streaming", f"--out={tmp_path / 'lm' / 'model.onnx'}"]) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)                               # the snippet's paths are relative: lm/...
    exec(compile(snippet(), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.startswith("ROMEO:") and len(printed) == 6 + 200 + 1      # one character a token, then "\n"
