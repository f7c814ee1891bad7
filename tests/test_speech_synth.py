"""espeak-ng synthesis: a few short utterances, reproducible, read back as a transcribed folder;
voice splits; noise at a given SNR."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from rnnkit.data import speech_synth
from rnnkit.data.audio import read_audio
from rnnkit.data.speech_synth import DIGITS, ENGLISH_VOICES, add_noise, split_voices, synthesize
from rnnkit.data.transcribed_audio import read_transcribed_dir

pytest.importorskip("soundfile", reason="the speech extra is not installed: pip install 'rnnkit[speech]'")

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")
VOICES = ["en-us+m3", "en-gb+f2"]


@needs_espeak
def test_digits_are_written_reproducibly_and_read_back(tmp_path):
    utts = synthesize(tmp_path / "a", n_utterances=3, kind="digits", voices=VOICES, seed=5, snr_db=20)
    assert len(utts) == 3 and utts == read_transcribed_dir(tmp_path / "a")
    for u in utts:
        assert set(u.text.split()) <= set(DIGITS) and u.speaker in VOICES and u.path.parent.name == u.speaker
        wave = read_audio(u.path)
        assert 0.2 < len(wave) / 16000 < 10 and np.abs(wave).max() > 0.05
    again = synthesize(tmp_path / "b", n_utterances=2, kind="digits", voices=VOICES, seed=5, snr_db=20)
    assert [u.text for u in again] == [u.text for u in utts[:2]]               # utterance i does not depend on n
    assert all(a.path.read_bytes() == b.path.read_bytes() for a, b in zip(again, utts))


@needs_espeak
def test_same_settings_reuse_the_files(tmp_path, monkeypatch):
    first = synthesize(tmp_path, n_utterances=1, kind="sentences", voices=VOICES, seed=0)
    assert len(first[0].text.split()) >= 6
    monkeypatch.setattr(speech_synth, "_speak", lambda *a: pytest.fail("synthesised again"))
    assert synthesize(tmp_path, n_utterances=1, kind="sentences", voices=VOICES, seed=0) == first


def test_missing_espeak_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(speech_synth.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        synthesize(tmp_path, n_utterances=1, voices=VOICES)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown voices"):
        synthesize(tmp_path, n_utterances=1, voices=["en-us+m99"])
    with pytest.raises(ValueError, match="kind"):
        synthesize(tmp_path, n_utterances=1, kind="poems", voices=VOICES)


def test_voice_split_holds_out_whole_variants():
    train, valid, test = split_voices(ENGLISH_VOICES, valid=2, test=3, seed=0)
    assert sorted(train + valid + test) == sorted(ENGLISH_VOICES)
    variants = [{v.split("+")[1] for v in part} for part in (train, valid, test)]
    assert [len(v) for v in variants[1:]] == [2, 3]
    assert not (variants[0] & variants[1] or variants[0] & variants[2] or variants[1] & variants[2])
    assert split_voices(ENGLISH_VOICES, seed=0) == (train, valid, test)
    with pytest.raises(ValueError, match="variants"):
        split_voices(VOICES, valid=1, test=1)


def test_noise_has_the_requested_snr():
    rng = np.random.default_rng(0)
    wave = np.sin(np.arange(160000) / 10).astype(np.float32)
    noisy = add_noise(wave, 10.0, rng)
    snr = 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean((noisy - wave).astype(np.float64) ** 2))
    assert abs(snr - 10) < 0.1
