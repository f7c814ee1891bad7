"""Japanese Vowels (Kudo, Toyama & Shimbo 1999): 9 speakers saying /ae/, 12 LPC cepstra per frame,
7 to 29 frames; the standard split is 270 training and 370 test utterances.

    train, test = load_japanese_vowels()          # each: (inputs (N, T, 12), labels (N,), lengths (N,))

The files come from the UCR/UEA archive copies in the `aeon==1.6.0` wheel (BSD-3), fetched once
into the rnnkit cache (see `data.fetch`), or read from `root` if given.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .fetch import fetch

PACKAGE, VERSION = "aeon", "1.6.0"
SHA256 = "d05227086706f80111ac5fee8de4d5d3115bb3bcfd1c786c8629393055816409"
MEMBERS = [f"aeon/datasets/data/JapaneseVowels/JapaneseVowels_{split}.ts" for split in ("TRAIN", "TEST")]

Split = tuple[Tensor, Tensor, Tensor]   # inputs (N, T, C) zero-padded, labels (N,) in 0..8, lengths (N,)


def load_japanese_vowels(root: str | Path | None = None, *, dtype: torch.dtype = torch.float64) -> tuple[Split, Split]:
    """(train, test). `root` is a folder with JapaneseVowels_TRAIN.ts and _TEST.ts; without it
    the files are fetched (and cached)."""
    if root is None:
        paths = fetch(PACKAGE, VERSION, SHA256, MEMBERS)
    else:
        paths = [Path(root) / Path(m).name for m in MEMBERS]
        for p in paths:
            if not p.is_file():
                raise FileNotFoundError(f"{p} is missing; copy the UEA JapaneseVowels .ts files there or pass "
                                        "root=None to fetch them")
    return tuple(_to_tensors(*read_ts(p.read_text()), dtype) for p in paths)   # type: ignore[return-value]


def read_ts(text: str) -> tuple[list[list[list[float]]], list[str]]:
    """A multivariate variable-length sktime/aeon `.ts` file -> ([(T_i, C) rows], labels)."""
    series, labels, in_data = [], [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("@data"):
            in_data = True
            continue
        if in_data:
            *dims, label = line.split(":")
            channels = [[float(v) for v in d.split(",")] for d in dims]   # (C, T_i)
            series.append([list(frame) for frame in zip(*channels)])     # (T_i, C)
            labels.append(label.strip())
    if not series:
        raise ValueError("no @data section with series found: is this a .ts file?")
    return series, labels


def _to_tensors(series: list[list[list[float]]], labels: list[str], dtype: torch.dtype) -> Split:
    lengths = torch.tensor([len(s) for s in series])
    x = torch.zeros(len(series), int(lengths.max()), len(series[0][0]), dtype=dtype)
    for i, s in enumerate(series):
        x[i, : len(s)] = torch.tensor(s, dtype=dtype)
    classes = sorted(set(labels), key=lambda c: (len(c), c))
    y = torch.tensor([classes.index(c) for c in labels])
    return x, y, lengths
