"""Audio front end: reading files, log-mel/MFCC against hand computations, context frames, the
feature cache, SpecAugment, and transcribed folders (including the pocketsphinx layout)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnkit.data import audio
from rnnkit.data.audio import AudioError, FeatureCache, FeatureConfig, features, read_audio, stack_context
from rnnkit.data.spec_augment import spec_augment
from rnnkit.data.transcribed_audio import Utterance, load_pocketsphinx_testdata, normalize_text, read_transcribed_dir

# rnnkit imports librosa and soundfile only when it reads or analyses audio
pytest.importorskip("librosa", reason="the speech extra is not installed: pip install 'rnnkit[speech]'")
sf = pytest.importorskip("soundfile", reason="the speech extra is not installed: pip install 'rnnkit[speech]'")

RATE = 16000


def sine(freq: float, seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# --- features -----------------------------------------------------------------------------------

def test_logmel_frame_equals_hand_computation():
    import librosa
    cfg = FeatureConfig(kind="logmel", n_mels=40, win_ms=32, hop_ms=10, normalize=False)   # window = n_fft = 512
    rng = np.random.default_rng(0)
    wave = (sine(440) + 0.1 * rng.standard_normal(RATE)).astype(np.float32)
    feats = features(wave, cfg)
    assert feats.shape == (1 + RATE // 160, 40) and feats.dtype == np.float32
    t = 37                                                         # frames are centred on t * hop
    frame = wave[t * 160 - 256: t * 160 + 256].astype(np.float64)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(512) / 512)    # periodic Hann
    power = np.abs(np.fft.rfft(frame * hann)) ** 2                  # (257,)
    bank = librosa.filters.mel(sr=RATE, n_fft=512, n_mels=40)      # (40, 257)
    np.testing.assert_allclose(feats[t], np.log(bank @ power), rtol=1e-4, atol=1e-4)


def test_sine_peaks_in_the_mel_band_that_contains_it():
    feats = features(sine(1000), FeatureConfig(kind="logmel", n_mels=40, normalize=False))
    # Slaney's mel scale is linear below 1 kHz at 200/3 Hz a mel, so 1000 Hz is mel 15; above it is
    # logarithmic with 27 mels per factor 6.4, so 8 kHz is mel 15 + 27 ln 8 / ln 6.4. The 40 band
    # centres are the 40 inner points of 42 equally spaced mels from 0 to there.
    top = 15 + 27 * math.log(8) / math.log(6.4)
    nearest = round(15 / (top / 41)) - 1
    frame = feats[len(feats) // 2]
    assert int(frame.argmax()) == nearest
    assert frame.max() - np.median(frame) > 10                     # e^10: the tone stands far out


def test_mfcc_is_the_orthonormal_dct_of_the_log_mel():
    from scipy.fft import dct
    wave = sine(300) + sine(2500)
    logmel = features(wave, FeatureConfig(kind="logmel", normalize=False))
    mfcc = features(wave, FeatureConfig(kind="mfcc", n_mfcc=13, normalize=False))
    np.testing.assert_allclose(mfcc, dct(logmel.astype(np.float64), type=2, norm="ortho", axis=1)[:, :13],
                               rtol=1e-4, atol=1e-3)


def test_normalisation_is_per_feature_and_survives_silence():
    rng = np.random.default_rng(1)
    feats = features(rng.standard_normal(8000).astype(np.float32), FeatureConfig(kind="mfcc"))
    np.testing.assert_allclose(feats.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(feats.std(axis=0), 1, atol=1e-3)
    silent = features(np.zeros(4000, np.float32), FeatureConfig())
    assert np.isfinite(silent).all() and np.allclose(silent, 0)


def test_context_stacks_neighbours_and_repeats_edges():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)               # (T=4, F=2)
    y = stack_context(x, 1)
    assert y.shape == (4, 6)
    np.testing.assert_array_equal(y[0], [0, 1, 0, 1, 2, 3])
    np.testing.assert_array_equal(y[2], [2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(y[3], [4, 5, 6, 7, 6, 7])
    torch.testing.assert_close(stack_context(torch.from_numpy(x), 2), torch.from_numpy(stack_context(x, 2)))
    assert stack_context(x, 0) is x
    cfg = FeatureConfig(kind="mfcc", context=3)
    assert features(sine(500, 0.2), cfg).shape[1] == cfg.size == 13 * 7


@pytest.mark.parametrize("kwargs, word", [({"kind": "fbank"}, "kind"), ({"n_mfcc": 50}, "n_mfcc"),
                                          ({"hop_ms": 30}, "hop_ms"), ({"context": -1}, "context"),
                                          ({"sample_rate": 4000}, "sample_rate")])
def test_feature_config_rejects_bad_settings(kwargs, word):
    with pytest.raises(ValueError, match=word):
        FeatureConfig(**kwargs)


# --- reading audio ------------------------------------------------------------------------------

def test_read_audio_resamples_and_downmixes(tmp_path):
    wave = sine(440, 0.5, 22050)
    sf.write(tmp_path / "a.flac", wave, 22050)
    got = read_audio(tmp_path / "a.flac")
    assert got.dtype == np.float32 and abs(len(got) - 8000) <= 1
    peak = np.argmax(np.abs(np.fft.rfft(got)))                     # 2 Hz bins over 0.5 s
    assert abs(peak * RATE / len(got) - 440) < 3
    sf.write(tmp_path / "st.wav", np.stack([wave, np.zeros_like(wave)], 1), 22050)
    np.testing.assert_allclose(read_audio(tmp_path / "st.wav", 22050), wave / 2, atol=1e-4)


def test_read_raw_needs_a_rate(tmp_path):
    pcm = (sine(200, 0.1) * 32767).astype("<i2")
    (tmp_path / "x.raw").write_bytes(pcm.tobytes())
    with pytest.raises(AudioError, match=r"x\.raw.*raw_sample_rate"):
        read_audio(tmp_path / "x.raw")
    np.testing.assert_allclose(read_audio(tmp_path / "x.raw", raw_sample_rate=RATE), pcm / 32768, atol=1e-6)


def test_read_audio_errors_name_the_file(tmp_path):
    (tmp_path / "junk.wav").write_text("not audio")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), RATE)
    sf.write(tmp_path / "six.wav", np.zeros((100, 6), np.float32), RATE)
    sf.write(tmp_path / "slow.wav", np.zeros(100, np.float32), 4000)
    for name, match in [("junk.wav", "cannot read"), ("empty.wav", "no samples"), ("six.wav", "6 channels"),
                        ("slow.wav", "4000 Hz")]:
        with pytest.raises(AudioError, match=match) as err:
            read_audio(tmp_path / name)
        assert name in str(err.value)
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        read_audio(tmp_path / "missing.wav")


# --- cache --------------------------------------------------------------------------------------

def test_cache_computes_once_and_keys_on_content_and_settings(tmp_path, monkeypatch):
    calls = []
    real = audio.base_features
    monkeypatch.setattr(audio, "base_features", lambda w, c: calls.append(c) or real(w, c))
    sf.write(tmp_path / "a.wav", sine(300, 0.3), RATE)
    cache, cfg = FeatureCache(tmp_path / "cache"), FeatureConfig(kind="mfcc")
    first = cache.get(tmp_path / "a.wav", cfg)
    np.testing.assert_array_equal(first, features(read_audio(tmp_path / "a.wav"), cfg))
    np.testing.assert_array_equal(FeatureCache(tmp_path / "cache").get(tmp_path / "a.wav", cfg), first)  # new run
    assert len(calls) == 1
    stacked = cache.get(tmp_path / "a.wav", FeatureConfig(kind="mfcc", context=2))   # same entry, stacked on read
    np.testing.assert_array_equal(stacked, stack_context(first, 2))
    assert len(calls) == 1
    cache.get(tmp_path / "a.wav", FeatureConfig(kind="logmel"))                        # new settings
    sf.write(tmp_path / "a.wav", sine(900, 0.3), RATE)                                 # new content
    assert not np.array_equal(cache.get(tmp_path / "a.wav", cfg), first)
    assert len(calls) == 3
    assert not list((tmp_path / "cache").rglob("*.tmp"))                               # atomic writes left nothing


def test_cache_recovers_from_a_corrupt_entry(tmp_path):
    sf.write(tmp_path / "a.wav", sine(300, 0.2), RATE)
    cache, cfg = FeatureCache(tmp_path / "cache"), FeatureConfig()
    good = cache.get(tmp_path / "a.wav", cfg)
    cache.entry(tmp_path / "a.wav", cfg).write_bytes(b"truncated")
    np.testing.assert_array_equal(cache.get(tmp_path / "a.wav", cfg), good)


# --- SpecAugment --------------------------------------------------------------------------------

def test_spec_augment_masks_bands_and_frames_with_the_mean():
    feats = torch.randn(200, 40) + 3
    out = spec_augment(feats, torch.Generator().manual_seed(0), freq_masks=1, freq_width=10, time_masks=1,
                       time_width=30, max_time_ratio=1.0)
    masked = out != feats
    assert out.shape == feats.shape and not torch.equal(out, feats)
    assert torch.allclose(out[masked], feats.mean())
    cols, rows = masked.all(dim=0), masked.all(dim=1)                # whole bands, whole frames
    assert cols.sum() <= 10 and rows.sum() <= 30
    assert torch.equal(masked, cols[None, :] | rows[:, None])
    again = spec_augment(feats, torch.Generator().manual_seed(0), freq_masks=1, freq_width=10, time_masks=1,
                         time_width=30, max_time_ratio=1.0)
    assert torch.equal(out, again)                                   # seeded: reproducible


def test_spec_augment_caps_time_masks_and_zero_masks_are_identity():
    feats = torch.randn(20, 8)
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        out = spec_augment(feats, gen, freq_masks=0, freq_width=0, time_masks=1, time_width=100,
                           max_time_ratio=0.2)
        assert (out != feats).all(dim=1).sum() <= 4                  # 0.2 * 20 frames
    assert torch.equal(spec_augment(feats, gen, freq_masks=0, freq_width=5, time_masks=0, time_width=5), feats)
    with pytest.raises(ValueError, match=r"\(T, F\)"):
        spec_augment(torch.randn(2, 3, 4), gen)


# --- transcribed folders ------------------------------------------------------------------------

def test_read_tsv_folder(tmp_path):
    (tmp_path / "spk1").mkdir()
    sf.write(tmp_path / "spk1" / "a.wav", sine(300, 0.1), RATE)
    sf.write(tmp_path / "b.flac", sine(300, 0.1), RATE)
    (tmp_path / "transcripts.tsv").write_text("# comment\nspk1/a.wav\tHello  World\n\nb.flac\tthree one\tbob\n")
    assert read_transcribed_dir(tmp_path) == [Utterance(tmp_path / "spk1" / "a.wav", "hello world", "spk1"),
                                              Utterance(tmp_path / "b.flac", "three one", "bob")]


def test_read_sphinx_folder(tmp_path):
    for uid in ("001", "002"):
        sf.write(tmp_path / f"{uid}.wav", sine(300, 0.1), RATE)
    (tmp_path / "cards.transcription").write_text("<s> TEN of clubs  </s> (001)\n<s> five five </s> (002)\n")
    utts = read_transcribed_dir(tmp_path)
    assert [(u.path.name, u.text, u.speaker) for u in utts] == [("001.wav", "ten of clubs", tmp_path.name),
                                                                ("002.wav", "five five", tmp_path.name)]
    assert normalize_text("<s> A <sil> b </s>") == "a b"


@pytest.mark.parametrize("content, error, match", [
    ("a.wav hello\n", ValueError, r"transcripts\.tsv:1: expected"),
    ("gone.wav\thello\n", FileNotFoundError, r"transcripts\.tsv:1: audio file .*gone\.wav"),
    ("a.wav\t<s> </s>\n", ValueError, r"transcripts\.tsv:1: empty transcript"),
])
def test_bad_tsv_lines_name_file_and_line(tmp_path, content, error, match):
    sf.write(tmp_path / "a.wav", sine(300, 0.1), RATE)
    (tmp_path / "transcripts.tsv").write_text(content)
    with pytest.raises(error, match=match):
        read_transcribed_dir(tmp_path)


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no transcripts file"):
        read_transcribed_dir(tmp_path)
    (tmp_path / "x.transcription").write_text("hello (nothere)\n")
    with pytest.raises(FileNotFoundError, match=r"x\.transcription:1: no audio file for utterance 'nothere'"):
        read_transcribed_dir(tmp_path)
    (tmp_path / "x.transcription").write_text("no id here\n")
    with pytest.raises(ValueError, match="Sphinx style"):
        read_transcribed_dir(tmp_path)


def test_pocketsphinx_layout_without_download(tmp_path):
    """The package's own folder layout, from a root folder (no fetch)."""
    (tmp_path / "librivox").mkdir()
    (tmp_path / "cards").mkdir()
    sf.write(tmp_path / "librivox" / "s-0870.wav", sine(300, 0.1), RATE)
    (tmp_path / "librivox" / "transcription").write_text("<s> he was not an ill disposed young man </s> (s-0870)\n")
    sf.write(tmp_path / "cards" / "001.wav", sine(300, 0.1), RATE)
    (tmp_path / "cards" / "cards.transcription").write_text("<s> ten of clubs  </s> (001)\n")
    utts = load_pocketsphinx_testdata(tmp_path)
    assert [(u.speaker, u.text) for u in utts] == [("librivox", "he was not an ill disposed young man"),
                                                   ("cards", "ten of clubs")]
