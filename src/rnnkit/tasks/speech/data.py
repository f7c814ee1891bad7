"""Where the speech task's utterances come from: per split, (features (T, F) float32, transcript,
name) triples, and the FeatureConfig that made the features (None for FSDD's shipped MFCCs).

    fsdd               isolated digits (data/fsdd.py), stratified seeded split
    fsdd_connected     strings of min_digits..max_digits FSDD utterances; test strings only from test ones
    espeak_digits      espeak-ng digit strings (data/speech_synth.py), held-out voices for valid and test
    espeak_sentences   espeak-ng sentences of a small grammar, held-out voices
    folder             `path`: transcripts.tsv or a Sphinx .transcription (data/transcribed_audio.py); with
                       train/ (valid/, test/) subfolders those are the splits, else they are carved off
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...data.audio import FeatureCache, FeatureConfig
from ...data.fetch import cache_dir
from ...data.fsdd import connected_digits, load_fsdd
from ...data.labelled import split_fractions
from ...data.speech_synth import ENGLISH_VOICES, split_voices, synthesize
from ...data.transcribed_audio import read_transcribed_dir

Example = tuple[np.ndarray, str, str]          # features (T, F), transcript, name (for error messages)
SOURCES = ("fsdd", "fsdd_connected", "espeak_digits", "espeak_sentences", "folder")


def feature_config(task: Any) -> Any:
    return FeatureConfig(kind=task.features, n_mels=task.n_mels, n_mfcc=task.n_mfcc, win_ms=task.win_ms,
                         hop_ms=task.hop_ms, context=task.context, normalize=task.normalize)


def load_examples(task: Any) -> tuple[dict[str, list[Example]], Any]:
    """{"train": [...], "valid": [...], "test": [...]} and the FeatureConfig (None for FSDD)."""
    if task.source in ("fsdd", "fsdd_connected"):
        return _fsdd(task), None
    cfg = feature_config(task)
    if task.source.startswith("espeak_"):
        utterances = _espeak(task)
    else:
        utterances = _folder(Path(task.path), task)
    return {name: audio_examples(utts, cfg) for name, utts in utterances.items()}, cfg


def audio_examples(utterances: list, cfg: Any) -> list[Example]:
    """Features (cached on disk) of each Utterance's audio file."""
    cache = FeatureCache()
    return [(cache.get(u.path, cfg), u.text, str(u.path)) for u in utterances]


def _fsdd(task: Any) -> dict[str, list[Example]]:
    parts = dict(zip(("train", "valid", "test"), load_fsdd(task.seed, task.test_fraction, task.valid_fraction)))
    if task.source == "fsdd":
        return {name: [(f, text, f"FSDD {name} utterance {i} ({text!r})") for i, (f, text) in enumerate(part)]
                for name, part in parts.items()}
    counts = {"train": task.strings, "valid": task.eval_strings, "test": task.eval_strings}
    out = {}
    for k, (name, part) in enumerate(parts.items()):
        strings = connected_digits(part, counts[name], task.min_digits, task.max_digits, seed=task.seed + k)
        out[name] = [(f, text, f"FSDD {name} digit string {i} ({text!r})") for i, (f, text) in enumerate(strings)]
    return out


def _espeak(task: Any) -> dict[str, list]:
    voices = dict(zip(("train", "valid", "test"), split_voices(ENGLISH_VOICES, valid=task.valid_voices,
                                                               test=task.test_voices, seed=task.seed)))
    kind = task.source.removeprefix("espeak_")
    root = Path(task.path) if task.path else cache_dir() / "speech_synth" / f"{kind}-seed{task.seed}"
    counts = {"train": task.utterances, "valid": task.eval_utterances, "test": task.eval_utterances}
    return {name: synthesize(root / name, n_utterances=counts[name], kind=kind, voices=voices[name],
                             seed=task.seed * 3 + k, snr_db=tuple(task.snr_db))
            for k, name in enumerate(("train", "valid", "test"))}


def _folder(root: Path, task: Any) -> dict[str, list]:
    if (root / "train").is_dir():
        found = {name: read_transcribed_dir(root / name) for name in ("train", "valid", "test")
                 if (root / name).is_dir()}
        if "valid" in found:
            return found
        utts, test = found["train"], found.get("test")
        parts = split_fractions(len(utts), task.valid_fraction, 0.0, task.seed)
        return {"train": [utts[i] for i in parts[0]], "valid": [utts[i] for i in parts[1]],
                **({"test": test} if test else {})}
    utts = read_transcribed_dir(root)
    parts = split_fractions(len(utts), task.valid_fraction, task.test_fraction, task.seed)
    return {name: [utts[i] for i in index] for name, index in zip(("train", "valid", "test"), parts) if index}
