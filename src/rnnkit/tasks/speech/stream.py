"""Reading an utterance for a speech run, whole or chunk by chunk.

    feats = utterance_features("a.wav", meta)                  # (T, F) as the run's training features
    for chunk in chunked_features("long.wav", meta, frames=200):   # (<= 200, F) each, in order
        log_probs, state = model(chunk[None], state)

`chunked_features` gives a file's feature frames in chunks, each frame computed from the audio
around it as the whole file's would be (the STFT window reaches n_fft / 2 samples either side),
so the chunks put together equal `utterance_features` when the run's features have no
per-utterance normalisation and no context. With `normalize`, a chunk is normalised with the
mean and variance of all frames so far (causal cepstral mean and variance normalisation, which
the whole-file features cannot be); with `context`, frames are stacked within each chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ...data.audio import FeatureConfig, base_features, features, read_audio, stack_context

RAW_SAMPLE_RATE = 16000       # a headerless .raw file is read as 16 kHz 16-bit mono (the Sphinx convention)


def utterance_features(path: str | Path, meta: dict) -> torch.Tensor:
    """(T, F) float32 features of an audio file, or of a .npy array (T, F) of features."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return _npy(path, meta)
    cfg = _feature_config(path, meta)
    return torch.from_numpy(features(_wave(path, cfg), cfg))


def chunked_features(path: str | Path, meta: dict, frames: int) -> Iterator[torch.Tensor]:
    """The features of `path` in chunks of `frames` frames (the last may be shorter)."""
    path = Path(path)
    if frames < 1:
        raise ValueError(f"chunks need at least one frame, got {frames}")
    if path.suffix.lower() == ".npy":
        yield from _npy(path, meta).split(frames)
        return
    cfg = _feature_config(path, meta)
    wave, hop = _wave(path, cfg), cfg.hop_length
    margin = -(-(cfg.n_fft // 2) // hop) * hop                 # >= n_fft / 2 samples, a whole number of hops
    total = 1 + len(wave) // hop                               # the whole file's frame count (center=True)
    padded = np.concatenate([np.zeros(margin, np.float32), wave, np.zeros(margin + hop, np.float32)])
    raw, count, sums, squares = replace(cfg, normalize=False, context=0), 0, 0.0, 0.0
    for first in range(0, total, frames):
        last = min(first + frames, total)
        segment = padded[first * hop:last * hop + 2 * margin]   # the audio of frames first..last-1, with margins
        chunk = base_features(segment, raw)[margin // hop:margin // hop + last - first].astype(np.float64)
        if cfg.normalize:                                       # running CMVN over the frames so far
            count, sums, squares = count + len(chunk), sums + chunk.sum(0), squares + (chunk ** 2).sum(0)
            mean = sums / count
            chunk = (chunk - mean) / np.maximum(np.sqrt(np.maximum(squares / count - mean ** 2, 0.0)), 1e-5)
        yield torch.from_numpy(stack_context(chunk.astype(np.float32), cfg.context))


def seconds_per_frame(meta: dict, stride: int) -> float | None:
    """Seconds between the model's output frames; None when the run's features are precomputed."""
    cfg = meta.get("features")
    return None if cfg is None else cfg["hop_ms"] / 1000 * stride


def _feature_config(path: Path, meta: dict):
    if meta.get("features") is None:
        raise ValueError(f"{path}: this run was trained on precomputed features ({meta['num_features']} per "
                         f"frame, e.g. FSDD's shipped MFCCs), so it reads .npy arrays (T, {meta['num_features']}), "
                         "not audio; train on audio (task.source = espeak_* or folder) to transcribe audio files")
    return FeatureConfig(**meta["features"])


def _wave(path: Path, cfg) -> np.ndarray:
    raw = RAW_SAMPLE_RATE if path.suffix.lower() == ".raw" else None
    return read_audio(path, cfg.sample_rate, raw_sample_rate=raw)


def _npy(path: Path, meta: dict) -> torch.Tensor:
    if not path.is_file():
        raise FileNotFoundError(f"feature file {path} does not exist")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read it as a .npy array ({error})") from None
    width = meta["num_features"]
    if array.ndim != 2 or array.shape[1] != width or array.shape[0] == 0 or not np.isfinite(array).all():
        raise ValueError(f"{path}: expected finite features of shape (T >= 1, {width}), got {array.shape}")
    return torch.from_numpy(array.astype(np.float32))
