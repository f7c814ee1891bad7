"""Where each classification task's examples come from: task.path read into {split: Part}, before
any valid or test part is split off and before encoding. Every part records what identifies its
examples (rows of a named file, or paths under the data folder), which a run keeps in split.json.

    text:      "imdb" | FILE (.csv, .tsv, .jsonl) | a folder of train.* (and valid.*, test.*) in those formats
    sequences: "japanese_vowels" | "fashion_mnist[:DIR]" | FILE (.ts, .arff, .npz) |
               a folder of NAME_TRAIN.ts and NAME_TEST.ts (or .arff) | a folder of <label>/*.csv
               (optionally under train/, valid/ and test/)
"""

from __future__ import annotations

from pathlib import Path

import torch

from ...data import labelled
from ...data.fashion_mnist import load_fashion_mnist
from ...data.japanese_vowels import MEMBERS, load_japanese_vowels
from ...data.labelled import split_fractions
from ...data.sequence_files import SEQUENCE_SUFFIXES, archive_files, read_labelled_sequences
from ...data.text_tables import SUFFIXES, read_text_table
from ._common import Part

SPLITS = ("train", "valid", "test")


def text_parts(path: str, *, text_column: str, label_column: str, seed: int,
               valid_fraction: float) -> dict[str, Part]:
    """{"train": Part, ...} of texts; IMDB comes with all three splits, a folder with the files it holds."""
    if path == "imdb":
        texts, labels = labelled.load_imdb()
        everything = Part(texts, labels, list(range(len(texts))), "imdb")      # rows of the deduplicated reviews
        train, test = labelled.split_imdb(len(texts), seed=seed)
        cut = round(valid_fraction * len(train))
        return {"train": everything.pick(train[cut:].tolist()), "valid": everything.pick(train[:cut].tolist()),
                "test": everything.pick(test.tolist())}
    def read(file: Path) -> Part:
        texts, labels = read_text_table(file, text_column=text_column, label_column=label_column)
        return Part(texts, labels, list(range(len(texts))), file.name)

    root = Path(path)
    if not root.is_dir():
        return {"train": read(root)}
    files = {}
    for name in SPLITS:
        found = [root / f"{name}{suffix}" for suffix in SUFFIXES if (root / f"{name}{suffix}").is_file()]
        if len(found) > 1:
            raise ValueError(f"{root} holds {' and '.join(f.name for f in found)}: keep one {name} file")
        if found:
            files[name] = found[0]
    if "train" not in files:
        raise ValueError(f"{root} should hold train.csv, train.tsv or train.jsonl (and optionally valid.* and "
                         "test.*)")
    return {name: read(file) for name, file in files.items()}


def sequence_parts(path: str) -> dict[str, Part]:
    """{"train": Part, ...} of (T, C) float sequences, with a test part where the source has one."""
    if path == "japanese_vowels":
        return {name: Part([x[i, :n].float() for i, n in enumerate(lengths.tolist())], [str(int(c)) for c in y],
                           list(range(len(y))), Path(member).name)
                for name, (x, y, lengths), member in zip(("train", "test"), load_japanese_vowels(), MEMBERS)}
    if path == "fashion_mnist" or path.startswith("fashion_mnist:"):
        images = load_fashion_mnist(None if path == "fashion_mnist" else path.split(":", 1)[1])
        return {name: Part(list(x), [str(int(c)) for c in y], list(range(len(y))), f"fashion_mnist {name}")
                for name, (x, y) in zip(("train", "test"), images)}
    root = Path(path)
    if root.is_file():
        if root.suffix.lower() not in SEQUENCE_SUFFIXES:
            raise ValueError(f"{root}: a sequence task reads a .ts, .arff or .npz file, or a folder of "
                             "<label>/<name>.csv sequences (a single CSV file is one sequence)")
        return {"train": _file_part(root)}
    if not root.is_dir():
        raise ValueError(f"no file or folder at {root}; give a .ts, .arff or .npz file, a folder of NAME_TRAIN.ts "
                         "and NAME_TEST.ts, or a folder of <label>/<name>.csv sequences")
    archive = archive_files(root)
    if archive is not None:
        return {name: _file_part(file) for name, file in archive.items()}
    folders = [name for name in SPLITS if (root / name).is_dir()] if (root / "train").is_dir() else [""]
    return {name or "train": _folder_part(root, root / name) for name in folders}


def _file_part(file: Path) -> Part:
    series, labels = read_labelled_sequences(file)
    return Part(series, labels, list(range(len(series))), file.name)


def _folder_part(root: Path, folder: Path) -> Part:
    series, labels = labelled.read_sequence_dir(folder)
    keys = [file.relative_to(root).as_posix() for file, _ in labelled.class_folder_files(folder)]
    return Part(series, labels, keys)


def labelled_sample(parts: dict[str, Part], size: int, seed: int, valid_fraction: float,
                    test_fraction: float) -> dict[str, Part]:
    """`size` labelled examples, a seeded sample of the training pool (train and a valid part read
    from the same file), as the new "train" part; the test part is kept whole. A single file with
    no test part first sets aside the test part a run without train_size would have, so every
    size is tested on the same examples."""
    if "test" not in parts and test_fraction:
        train, valid, test = split_fractions(len(parts["train"].inputs), valid_fraction, test_fraction, seed)
        parts = {"train": parts["train"].pick(train + valid), "test": parts["train"].pick(test)}
    pool = parts["train"]
    valid = parts.get("valid")
    if valid is not None and valid.file == pool.file:
        pool = Part(pool.inputs + valid.inputs, pool.labels + valid.labels, pool.keys + valid.keys, pool.file)
        valid = None
    if not 0 < size <= len(pool.inputs):
        raise ValueError(f"task.train_size = {size}, but the training pool holds {len(pool.inputs)} labelled examples")
    order = torch.randperm(len(pool.inputs), generator=torch.Generator().manual_seed(seed)).tolist()
    picked = {"train": pool.pick(order[:size])}
    picked.update({name: part for name, part in (("valid", valid), ("test", parts.get("test"))) if part is not None})
    return picked
