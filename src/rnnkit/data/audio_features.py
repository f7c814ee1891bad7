"""Log-mel and MFCC features of a waveform, normalised per utterance, with optional context frames.

    cfg = FeatureConfig(kind="logmel", n_mels=40, context=0)
    feats = features(wave, cfg)                       # (N,) float32 at cfg.sample_rate -> (T, cfg.size)

    power spectrum   P_t = |FFT(hann · x_t)|²          one frame per hop, frames centred on t · hop
    log-mel          L_t = log(max(M P_t, 1e-10))      M: (n_mels, n_fft/2 + 1) Slaney mel filterbank
    MFCC             C_t = DCT-II_ortho(L_t)[:n_mfcc]
    normalised       (L - mean_t L) / std_t L          per feature, over the utterance (CMVN)
    context k        [f_{t-k}, ..., f_{t+k}]           edges repeat the first/last frame (Deep Speech)

The filterbank, STFT and DCT are librosa's (`librosa.filters.mel`, `librosa.stft`,
`librosa.feature.mfcc`): librosa is actively maintained, numpy-only, and its mel scale and
filterbank normalisation are the ones most published recipes use. torchaudio would keep the
features in torch, but it is in maintenance mode and its wheels are pinned to torch versions
that do not match our torch 2.13 pin. Features are computed in numpy once and cached on disk
(see `audio.FeatureCache`), so staying outside the autograd graph costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

LOG_FLOOR = 1e-10        # log(0) guard: -23 nats, well below any audible band's energy
STD_FLOOR = 1e-5         # a constant feature (digital silence) is centred, not blown up


@dataclass(frozen=True)
class FeatureConfig:
    """What `features` computes. `size` is the width F of its (T, F) output."""

    kind: str = "logmel"             # "logmel" or "mfcc"
    sample_rate: int = 16000         # Hz; audio is resampled to this on reading
    n_mels: int = 40                 # mel bands (also the bands MFCCs are taken from)
    n_mfcc: int = 13                 # cepstral coefficients kept, for kind="mfcc"
    win_ms: float = 25.0             # analysis window
    hop_ms: float = 10.0             # frame step
    context: int = 0                 # k frames stacked on each side (Deep Speech uses 5 to 9)
    normalize: bool = True           # per-utterance mean/variance normalisation

    def __post_init__(self) -> None:
        if self.kind not in ("logmel", "mfcc"):
            raise ValueError(f"FeatureConfig.kind must be 'logmel' or 'mfcc', got {self.kind!r}")
        if self.sample_rate < 8000:
            raise ValueError(f"FeatureConfig.sample_rate must be at least 8000 Hz, got {self.sample_rate}")
        if self.n_mels < 1 or not 1 <= self.n_mfcc <= self.n_mels:
            raise ValueError(f"need n_mels >= 1 and 1 <= n_mfcc <= n_mels, got n_mels={self.n_mels}, "
                             f"n_mfcc={self.n_mfcc}")
        if not 0 < self.hop_ms <= self.win_ms:
            raise ValueError(f"need 0 < hop_ms <= win_ms, got hop_ms={self.hop_ms}, win_ms={self.win_ms}")
        if self.win_length < 16:
            raise ValueError(f"win_ms={self.win_ms} is only {self.win_length} samples at {self.sample_rate} Hz; "
                             "use a window of at least a few milliseconds (25 is usual)")
        if self.context < 0:
            raise ValueError(f"FeatureConfig.context must be >= 0, got {self.context}")

    @property
    def win_length(self) -> int:
        return round(self.sample_rate * self.win_ms / 1000)

    @property
    def hop_length(self) -> int:
        return max(1, round(self.sample_rate * self.hop_ms / 1000))

    @property
    def n_fft(self) -> int:
        return 1 << (self.win_length - 1).bit_length()               # next power of two >= the window

    @property
    def size(self) -> int:
        base = self.n_mfcc if self.kind == "mfcc" else self.n_mels
        return base * (2 * self.context + 1)


def features(wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(N,) samples at cfg.sample_rate -> (T, cfg.size) float32, T = 1 + N // hop_length."""
    return stack_context(base_features(wave, cfg), cfg.context)


def base_features(wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """`features` without context stacking: (T, n_mels or n_mfcc) float32. This is what the
    cache stores and what SpecAugment masks (the context is stacked after masking)."""
    librosa = librosa_module()
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"features need a non-empty mono waveform (N,), got shape {wave.shape}")
    spec = np.abs(librosa.stft(wave, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                               window="hann", center=True, pad_mode="constant")) ** 2  # (n_fft/2+1, T)
    bank = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels)  # (n_mels, n_fft/2+1)
    # float64 from here: in float32 the mean of a constant column is off by ~1e-6, which the
    # std floor would blow up to ~0.1 in digital silence
    feats = np.log(np.maximum(bank @ spec, LOG_FLOOR).astype(np.float64))                # (n_mels, T)
    if cfg.kind == "mfcc":
        feats = librosa.feature.mfcc(S=feats, n_mfcc=cfg.n_mfcc, dct_type=2, norm="ortho")  # (n_mfcc, T)
    feats = feats.T                                                                       # (T, F)
    if cfg.normalize:
        feats = normalize(feats)
    return np.ascontiguousarray(feats, dtype=np.float32)


def normalize(feats: np.ndarray) -> np.ndarray:
    """(T, F) -> (T, F) with zero mean and unit variance per feature over time."""
    mean, std = feats.mean(axis=0), feats.std(axis=0)
    return (feats - mean) / np.maximum(std, STD_FLOOR)


def stack_context(feats, k: int):
    """(T, F) -> (T, (2k + 1) F): frame t becomes [f_{t-k}, ..., f_t, ..., f_{t+k}], with the first
    and last frames repeated past the edges (Hannun et al. 2014, Deep Speech: "a context of C
    frames on each side"). Works on numpy arrays and torch tensors alike.

    >>> stack_context(np.array([[1.0], [2.0], [3.0]]), 1).tolist()
    [[1.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 3.0]]
    """
    if k < 0:
        raise ValueError(f"context must be >= 0, got {k}")
    if k == 0:
        return feats
    n = feats.shape[0]
    idx = np.clip(np.arange(n)[:, None] + np.arange(-k, k + 1)[None, :], 0, n - 1)   # (T, 2k+1)
    if isinstance(feats, torch.Tensor):
        idx = torch.from_numpy(idx).to(feats.device)
    return feats[idx].reshape(n, -1)                                                  # (T, 2k+1, F) -> (T, (2k+1)F)


def librosa_module():
    try:
        import librosa
    except ImportError as err:
        raise ImportError("audio features and resampling need librosa: pip install 'rnnkit[speech]'") from err
    return librosa
