"""The speech task: a tiny CTC run learns two tone "words", infeasible utterances are refused by
name, settings are checked, the loss is torch's CTC loss.

The two words are built from sine tones, one frequency per character ("up": 300 Hz then 900 Hz,
"no": 1800 Hz then 3000 Hz), so this test needs no espeak-ng and never skips.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rnnkit
from rnnkit.cli import main
from rnnkit.io.fields import ConfigError
from rnnkit.runs.configs import load_config
from rnnkit.tasks.speech.task import SpeechRecognition, ctc_loss

TONES = {"u": 300.0, "p": 900.0, "n": 1800.0, "o": 3000.0}
RATE = 16000


def tone_words(words: list[str], rng: np.random.Generator) -> np.ndarray:
    """Each character a 0.10-0.14 s tone at its frequency; silence around each word; faint noise."""
    parts = []
    for word in words:
        parts.append(np.zeros(int(RATE * rng.uniform(0.05, 0.1))))
        for ch in word:
            t = np.arange(int(RATE * rng.uniform(0.10, 0.14))) / RATE
            parts.append(0.5 * np.sin(2 * np.pi * TONES[ch] * t))
    parts.append(np.zeros(int(RATE * rng.uniform(0.05, 0.1))))
    wave = np.concatenate(parts)
    return (wave + 0.01 * rng.standard_normal(len(wave))).astype(np.float32)


def write_tones(folder: Path, texts: list[str], seed: int) -> list[Path]:
    """One wav per text under `folder` and its transcripts.tsv."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    rng, rows, paths = np.random.default_rng(seed), [], []
    for i, text in enumerate(texts):
        paths.append(folder / f"{i:03d}.wav")
        soundfile.write(paths[-1], tone_words(text.split(), rng), RATE)
        rows.append(f"{paths[-1].name}\t{text}\n")
    (folder / "transcripts.tsv").write_text("".join(rows))
    return paths


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
normalize = false
front_size = 16
valid_fraction = 0.25
test_fraction = 0.0
beam = 2
[model]
cell = "gru"
hidden_size = 24
bidirectional = {bidirectional}
[train]
iterations = {iterations}
batch_size = 8
eval_every = 0
plots = false
[optim]
lr = 0.03
"""


@functools.cache
def trained_run(bidirectional: bool = False, iterations: int = 100) -> Path:
    """A run trained on 32 tone words (shared by the tests of this module and test_transcribe_cli)."""
    root = Path(tempfile.mkdtemp(prefix="rnnkit-speech-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    write_tones(root / "data", ["up", "no"] * 16, seed=0)
    config = root / "config.toml"
    config.write_text(CONFIG.format(out=root / "run", data=root / "data", iterations=iterations,
                                    bidirectional=str(bidirectional).lower()))
    with mock.patch.dict(os.environ, {"RNNKIT_CACHE": str(root / "cache")}):
        assert main(["train", str(config)]) == 0
    return root / "run"


def test_learns_to_transcribe_two_tone_words(tmp_path, capsys):
    run = trained_run()
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["split"] == "valid" and last["wer"] == 0.0 and last["cer"] == 0.0 and last["beam_wer"] == 0.0
    files = write_tones(tmp_path, ["no", "up", "up"], seed=7)                       # unheard recordings
    capsys.readouterr()
    assert main(["transcribe", str(run), *map(str, files)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[1] for line in lines] == ["no", "up", "up"]


def test_infeasible_utterances_are_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    write_tones(tmp_path / "data", ["up", "no", "up", "no"], seed=1)
    tsv = tmp_path / "data" / "transcripts.tsv"
    tsv.write_text(tsv.read_text().replace("001.wav\tno", "001.wav\t" + "no" * 40))     # 80 labels in 0.4 s
    task = SpeechRecognition(source="folder", path=str(tmp_path / "data"), valid_fraction=0.25, test_fraction=0.25,
                             front="conv", stride=4, kernel=4)
    with pytest.raises(ValueError, match=r"1 utterance\(s\) are too short.*stride of 4: .*001\.wav \(\d+ frames, "
                       r"needs 80\)"):
        task.load()


@pytest.mark.parametrize("override,message", [
    ("--task.source=librispeech", "task.source must be one of"),
    ("--task.source=folder", "needs task.path"),
    ("--task.front=lstm", "task.front must be one of"),
    ("--task.lm_order=3", "need task.beam > 0"),
    ("--task.bucket_size=-2", "must be >= 0"),
])
def test_settings_are_checked(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["--task.name=speech", override])


def test_ctc_loss_is_torchs_mean_reduction():
    log_probs = torch.randn(3, 12, 6).log_softmax(-1)                           # (B, T, C)
    targets = torch.tensor([[1, 2, 2, 3], [4, 0, 0, 0], [5, 5, 0, 0]])
    lengths, target_lengths = torch.tensor([12, 7, 5]), torch.tensor([4, 1, 2])
    expected = F.ctc_loss(log_probs.transpose(0, 1), targets, lengths, target_lengths, blank=0)
    torch.testing.assert_close(ctc_loss(log_probs, targets, lengths, target_lengths).mean(), expected)


def test_spec_augment_with_context_masks_the_frames_before_stacking():
    from rnnkit.data.audio_features import stack_context
    from rnnkit.data.spec_augment import spec_augment

    task = SpeechRecognition(source="folder", path="x", context=2, time_masks=1, time_width=4, freq_masks=1,
                             freq_width=2)
    frames = torch.randn(2, 12, 3)                                   # 3 features a frame, context 2 -> 15
    x = torch.stack([stack_context(f, 2) for f in frames])
    torch.manual_seed(4)
    masked = task._augment(x, torch.tensor([12, 12]))
    torch.manual_seed(4)
    for i in range(2):
        expected = stack_context(spec_augment(frames[i], None, freq_masks=1, freq_width=2, time_masks=1,
                                              time_width=4), 2)
        torch.testing.assert_close(masked[i], expected)
    changed = masked != x                                            # a masked frame is masked in all 5 copies
    blocks = changed.view(2, 12, 5, 3)
    assert changed.any() and torch.equal(blocks[:, 2:12, 0], blocks[:, 0:10, 2])   # frame t-2 and frame t


def test_spec_augment_masks_only_training_frames(tmp_path):
    task = SpeechRecognition(source="folder", path="x", time_masks=1, time_width=3, freq_masks=1, freq_width=2)
    x = torch.randn(2, 10, 5)
    masked = task._augment(x, torch.tensor([10, 6]))
    assert not torch.equal(masked, x) and torch.equal(masked[1, 6:], x[1, 6:])      # padding left alone


def test_plot_writes_the_posteriogram_of_a_validation_utterance(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    saved = rnnkit.load(trained_run())
    task, model = saved.task, saved.model
    png = task.plot(model.train(), task.load(), tmp_path / "plots")
    assert png == tmp_path / "plots" / "posteriogram_valid.png" and png.stat().st_size > 1000 and model.training


def test_bucketed_batches_score_and_train_like_plain_ones(tmp_path, monkeypatch):
    """bucket_size: every split as fixed (K, B) batches of similar lengths; the filler rows of the
    last batch (0 frames) never reach the model, so the metrics equal the plain split's."""
    import dataclasses

    from rnnkit.tasks.speech.task import trimmed

    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    saved = rnnkit.load(trained_run())
    task, model = saved.task, saved.model
    plain = task.load().valid
    bucketed_task = dataclasses.replace(task, bucket_size=3)
    bucketed = bucketed_task.load().valid
    assert bucketed.inputs.dim() == 4 and bucketed.lengths.shape == (3, 3)       # 8 utterances + 1 filler
    assert int((bucketed.lengths == 0).sum()) == 1
    rows = trimmed(bucketed)
    assert len(rows[1]) == len(plain) and sorted(rows[1].tolist()) == sorted(plain.lengths.tolist())
    each = [bucketed.select(slice(k, k + 1)) for k in range(3)]
    with torch.no_grad():
        got, want = bucketed_task.evaluate(model, each), task.evaluate(model, [plain])
    assert set(got) == set(want)
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=1e-5)
    data = bucketed_task.load()
    loss, _ = bucketed_task.loss(model.train(), data.train.select(slice(0, 2)), None)
    assert torch.isfinite(loss)
    run = trained_run().parent                                  # and through rnnkit train, 2 buckets per update
    config = (run / "config.toml").read_text().replace(str(run / "run"), str(tmp_path / "bucketed"))
    (tmp_path / "c.toml").write_text(config)
    assert main(["train", str(tmp_path / "c.toml"), "--task.bucket_size=4", "--train.batch_size=2",
                 "--train.iterations=10"]) == 0
    last = json.loads((tmp_path / "bucketed" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["split"] == "valid" and np.isfinite(last["loss"])
    with pytest.raises(ValueError, match="must be >= 0"):
        SpeechRecognition(source="folder", path="x", bucket_size=-1)


def test_alphabet_auto_takes_the_training_transcripts_characters(tmp_path, monkeypatch):
    monkeypatch.setitem(TONES, "ñ", 2400.0)
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    write_tones(tmp_path / "data", ["ñu", "no"] * 4, seed=1)
    settings = dict(source="folder", path=str(tmp_path / "data"), n_mels=20, hop_ms=20.0, win_ms=40.0,
                    valid_fraction=0.25, test_fraction=0.0)
    with pytest.raises(ValueError, match=r"outside the alphabet: \['ñ'\].*Alphabet\(characters=...\)"):
        SpeechRecognition(**settings).load()                            # English by default
    auto = SpeechRecognition(**settings, alphabet="auto")
    data = auto.load()
    assert auto.describe(data)["characters"] == " nouñ"
    from rnnkit.config import ModelConfig

    model = auto.build_model(ModelConfig(cell="gru", hidden_size=8), auto.describe(data))
    assert model(data.train.inputs[:2], None, data.train.lengths[:2])[0].size(-1) == 6      # blank + 5
    given = SpeechRecognition(**settings, alphabet=" abcdefghijklmnopqrstuvwxyzñ'")
    assert given.describe(given.load())["characters"] == " abcdefghijklmnopqrstuvwxyzñ'"
    with pytest.raises(ValueError, match="characters must be distinct; repeated: \\['n'\\]"):
        SpeechRecognition(**settings, alphabet=" nnoñu").load()
