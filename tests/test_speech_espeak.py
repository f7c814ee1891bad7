"""End to end on synthesised speech: espeak-ng says "yes" and "no" in several voices, a small CTC
model learns them through `rnnkit train`, and `rnnkit transcribe` gets renditions it never heard
(other speeds and pitches) right. Skips where espeak-ng is not installed (scripts/test.sh installs it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import main

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng is not installed (apt-get install espeak-ng)")

VOICES = ("en-us+m1", "en-us+f2", "en-gb+m3", "en-gb+f4", "en-gb-scotland+m2", "en-029+f1")

CONFIG = """
seed = 0
out_dir = "{out}"
[task]
name = "speech"
source = "folder"
path = "{data}"
n_mels = 20
hop_ms = 20.0
win_ms = 40.0
front_size = 32
valid_fraction = 0.2
test_fraction = 0.0
[model]
cell = "gru"
hidden_size = 32
bidirectional = true
[train]
iterations = 300
batch_size = 8
eval_every = 0
plots = false
[optim]
lr = 0.02
"""


def say(folder: Path, items: list[tuple[str, str, int, int]]) -> list[Path]:
    import soundfile

    from rnnkit.data.speech_synth import SAMPLE_RATE, _espeak, _speak

    folder.mkdir(parents=True, exist_ok=True)
    espeak, paths, rows = _espeak(), [], []
    for i, (word, voice, speed, pitch) in enumerate(items):
        paths.append(folder / f"{i:03d}.wav")
        soundfile.write(paths[-1], _speak(espeak, word, voice, speed, pitch), SAMPLE_RATE)
        rows.append(f"{paths[-1].name}\t{word}\n")
    (folder / "transcripts.tsv").write_text("".join(rows))
    return paths


def test_learns_two_spoken_words_and_transcribes_unheard_renditions(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    train = [(w, v, int(rng.integers(150, 190)), int(rng.integers(35, 65)))
             for v in VOICES for w in ("yes", "no") for _ in range(3)]
    say(tmp_path / "data", train)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(out=tmp_path / "run", data=tmp_path / "data"))
    assert main(["train", str(config)]) == 0
    unheard = [("no", VOICES[0], 200, 30), ("yes", VOICES[3], 140, 70), ("yes", VOICES[4], 195, 40),
               ("no", VOICES[5], 145, 60)]
    files = say(tmp_path / "new", unheard)
    capsys.readouterr()
    assert main(["transcribe", str(tmp_path / "run"), *map(str, files)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[1] if "\t" in line else "" for line in lines] == [w for w, *_ in unheard], lines
