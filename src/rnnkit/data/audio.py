"""Reading audio files, and a disk cache of their features.

    wave = read_audio("utt.flac")                                 # (N,) float32 mono at 16 kHz
    wave = read_audio("goforward.raw", raw_sample_rate=16000)    # headerless 16-bit little-endian mono
    cache = FeatureCache()                                        # under $RNNKIT_CACHE/features
    feats = cache.get("utt.flac", FeatureConfig(kind="mfcc"))     # (T, F) float32, computed once

Anything libsndfile reads (wav, flac, ogg, ...) is accepted. Stereo is averaged to mono (both
channels of a speech recording carry the same words); more channels are refused, because
averaging surround or multi-microphone tracks is not a good mono mix. Audio is resampled with
soxr (through librosa) to the requested rate; sources below 8 kHz are refused, since they lack
most of the speech band. Features are computed by `audio_features` and re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .audio_features import FeatureConfig as FeatureConfig
from .audio_features import base_features as base_features
from .audio_features import features as features
from .audio_features import librosa_module
from .audio_features import stack_context as stack_context
from .fetch import cache_dir

MIN_SAMPLE_RATE = 8000
CACHE_FORMAT = 1          # bump when base_features changes what it computes


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file and the fix."""


def wav_shortfall(path: Path) -> tuple[int, int] | None:
    """(declared, present) bytes of a RIFF/WAVE file's data chunk when the file ends before the
    size its header declares, else None (also for anything that is not a plain WAV)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = os.fstat(f.fileno()).st_size
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            name, length = chunk[:4], int.from_bytes(chunk[4:], "little")
            if name == b"data":
                present = size - f.tell()
                return (length, present) if length != 0xFFFFFFFF and present < length else None
            f.seek(length + length % 2, os.SEEK_CUR)


def read_audio(path: str | Path, sample_rate: int = 16000, *, raw_sample_rate: int | None = None) -> np.ndarray:
    """(N,) float32 mono in [-1, 1] at `sample_rate`. A `.raw` file has no header, so it needs
    `raw_sample_rate` (it is read as 16-bit signed little-endian mono, the Sphinx convention)."""
    sf = _soundfile()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} " + ("is a directory: give one audio file (or the folder as "
                                "the task's path)" if path.is_dir() else "does not exist"))
    try:
        if path.suffix.lower() == ".raw":
            if raw_sample_rate is None:
                raise AudioError(f"{path}: a .raw file has no header; pass raw_sample_rate (e.g. 16000 for "
                                 "the pocketsphinx test files) to read it as 16-bit little-endian mono")
            wave, rate = sf.read(path, dtype="float32", always_2d=True, format="RAW", subtype="PCM_16",
                                 samplerate=raw_sample_rate, channels=1, endian="LITTLE")
        else:
            wave, rate = sf.read(path, dtype="float32", always_2d=True)           # (N, C)
    except sf.LibsndfileError as err:
        raise AudioError(f"{path}: cannot read it as audio ({err}); convert it to wav or flac, e.g. with "
                         "sox or ffmpeg") from None
    if wave.shape[1] > 2:
        raise AudioError(f"{path} has {wave.shape[1]} channels; rnnkit reads mono or stereo (averaged). Mix "
                         f"it down first, e.g. `sox {path.name} out.wav remix 1`")
    if wave.shape[0] == 0:
        raise AudioError(f"{path} holds no samples; remove it or its transcript line")
    short = wav_shortfall(path)
    if short:
        # libsndfile reads what is there without a word; a cut-off recording loses its last words
        warnings.warn(f"{path} is truncated: its header declares {short[0]:,} bytes of audio but the file holds "
                      f"{short[1]:,}; reading what is there (re-copy or re-record it)", stacklevel=2)
    if rate < MIN_SAMPLE_RATE:
        raise AudioError(f"{path} is sampled at {rate} Hz; rnnkit needs at least {MIN_SAMPLE_RATE} Hz (below "
                         "that most of the speech band is missing)")
    wave = wave.mean(axis=1)                                                       # (N, C) -> (N,)
    if not np.isfinite(wave).all():
        raise AudioError(f"{path} contains NaN or infinite samples")
    if rate != sample_rate:
        wave = librosa_module().resample(wave, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(wave, dtype=np.float32)


class FeatureCache:
    """Features of audio files, computed once and kept as .npy files under `root`.

    The key is the sha256 of the file's bytes plus the feature settings (and the librosa
    version, whose filterbank could change), so an edited file or new settings recompute, and
    a renamed or copied file does not. The context frames are stacked on reading, so one cached
    file serves every `context`. Writes go to a temporary file that is renamed into place, so
    parallel workers or an interrupted run never leave a half-written entry.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir() / "features"
        self._digests: dict[tuple[str, int, int], str] = {}   # (path, size, mtime) -> sha256: hash once per run

    def get(self, path: str | Path, cfg: FeatureConfig, *, raw_sample_rate: int | None = None) -> np.ndarray:
        """(T, cfg.size) float32, as `features(read_audio(path, cfg.sample_rate), cfg)`."""
        return stack_context(self.base(path, cfg, raw_sample_rate=raw_sample_rate), cfg.context)

    def base(self, path: str | Path, cfg: FeatureConfig, *, raw_sample_rate: int | None = None) -> np.ndarray:
        """(T, n_mels or n_mfcc) float32 before context stacking (for SpecAugment, then `stack_context`)."""
        entry = self.entry(path, cfg, raw_sample_rate=raw_sample_rate)
        if entry.is_file():
            try:
                return np.load(entry)
            except (OSError, ValueError):
                pass                              # unreadable (e.g. disk full when written): recompute
        wave = read_audio(path, cfg.sample_rate, raw_sample_rate=raw_sample_rate)
        feats = base_features(wave, cfg)
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=entry.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, feats)
            os.replace(tmp, entry)                # atomic on POSIX and Windows
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return feats

    def entry(self, path: str | Path, cfg: FeatureConfig, *, raw_sample_rate: int | None = None) -> Path:
        """Where the features of `path` under `cfg` are (or will be) cached."""
        settings = asdict(replace(cfg, context=0)) | {"raw_sample_rate": raw_sample_rate, "format": CACHE_FORMAT,
                                                      "librosa": librosa_module().__version__}
        key = hashlib.sha256(f"{self._digest(Path(path))}:{json.dumps(settings, sort_keys=True)}".encode())
        digest = key.hexdigest()
        return self.root / digest[:2] / f"{digest}.npy"

    def _digest(self, path: Path) -> str:
        if not path.is_file():
            raise FileNotFoundError(f"audio file {path} " + ("is a directory: give one audio file (or the folder as "
                                "the task's path)" if path.is_dir() else "does not exist"))
        stat = path.stat()
        memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if memo not in self._digests:
            h = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            self._digests[memo] = h.hexdigest()
        return self._digests[memo]


def _soundfile():
    try:
        import soundfile
    except ImportError as err:
        raise ImportError("reading audio needs soundfile: pip install 'rnnkit[speech]'") from err
    return soundfile

