"""Labelled feature sequences from one file: the UEA/UCR archive's .ts and .arff formats (read
with aeon's readers, `pip install 'rnnkit[classify]'`) and NumPy .npz archives; the archive's
folder layout (NAME_TRAIN.ts beside NAME_TEST.ts); and the inputs `rnnkit classify predict` reads.

    series, labels = read_labelled_sequences("JapaneseVowels_TRAIN.ts")    # [(T_i, C) float32], ["1", ...]
    series, labels = read_labelled_sequences("data.npz")     # X (N, T, C), (N, T) or ragged; y (N,)
    files = archive_files("Multivariate_ts/JapaneseVowels")  # {"train": ..._TRAIN.ts, "test": ..._TEST.ts}
    names, series = read_sequences("new.ts", num_features=12)

A .npz holds X and y, and optionally lengths (N,) when X is zero-padded (N, T, C); X may also be
an object array of (T_i, C) arrays, which NumPy pickles: open only files you trust, as with
torch.load. Errors name the file, and the line where the reader gives one. aeon reads a .ts
file's labels in lower case.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .labelled import check_sequences, read_sequence_csv

SEQUENCE_SUFFIXES = (".ts", ".arff", ".npz")
INSTALL = "pip install 'rnnkit[classify]'"
_CASE = re.compile(r"\bcase (\d+)\b")


def read_labelled_sequences(path: str | Path) -> tuple[list[Tensor], list[str]]:
    """(sequences (T_i, C) float32, labels) from a .ts, .arff or .npz file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no file at {path}")
    series, labels = _read(path)
    if labels is None:
        raise ValueError(f"{path} holds no class labels" + (" (@classLabel false)" if path.suffix == ".ts"
                                                             else "; save them as y beside X"))
    return series, labels


def archive_files(folder: str | Path) -> dict[str, Path] | None:
    """{"train": NAME_TRAIN.ts, "test": NAME_TEST.ts} (or .arff) of a UEA/UCR archive folder; None
    if it holds no *_TRAIN file. A TRAIN file without its TEST file, or several, is an error."""
    folder = Path(folder)
    for suffix in (".ts", ".arff"):
        train = sorted(folder.glob(f"*_TRAIN{suffix}"))
        if len(train) > 1:
            raise ValueError(f"{folder} holds several training files ({', '.join(p.name for p in train)}); "
                             "give one of them as task.path, or keep one problem per folder")
        if train:
            test = train[0].with_name(train[0].name.replace(f"_TRAIN{suffix}", f"_TEST{suffix}"))
            if not test.is_file():
                raise ValueError(f"{folder} holds {train[0].name} but not {test.name}; give the TRAIN file itself "
                                 "as task.path to split a test part off it")
            return {"train": train[0], "test": test}
    return None


def read_sequences(path: str | Path, num_features: int) -> tuple[list[str], list[Tensor]]:
    """(names, sequences) to classify, in a format a sequence task trains on: a CSV file (one
    sequence), a folder (every CSV below it, e.g. <label>/<name>.csv; names relative to it), a
    .npy array (T, C) or (N, T, C), or a .ts, .arff or .npz file (its labels, if any, unused).
    Every step must hold `num_features` finite values; errors name the file and line, or the
    sequence and step."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.rglob("*.csv"))
        if not files:
            raise ValueError(f"{path} holds no CSV files (one sequence per file, one row per step)")
        return [str(f.relative_to(path)) for f in files], [read_sequence_csv(f, num_features) for f in files]
    if path.suffix.lower() == ".npy" and path.is_file():
        array = np.load(path, allow_pickle=False)
        if array.ndim not in (2, 3):
            raise ValueError(f"{path}: expected an array (time, features) or (sequences, time, features), "
                             f"got shape {array.shape}")
        series = [torch.from_numpy(a).float() for a in (array if array.ndim == 3 else [array])]
        check_sequences(series, num_features, where=f"{path}, ")
        return [f"{path.name}[{i}]" for i in range(len(series))] if array.ndim == 3 else [path.name], series
    if path.suffix.lower() in SEQUENCE_SUFFIXES and path.is_file():
        series = _read(path)[0]
        check_sequences(series, num_features, where=f"{path}, ")
        return [f"{path.name}[{i}]" for i in range(len(series))], series
    if path.is_file():
        return [path.name], [read_sequence_csv(path, num_features)]
    raise ValueError(f"no file or folder at {path}; give a CSV (one sequence), a folder of CSVs, a .npy or .npz "
                     "array, or a .ts or .arff file")


def _read(path: Path) -> tuple[list[Tensor], list[str] | None]:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix not in (".ts", ".arff"):
        raise ValueError(f"{path}: expected a .ts, .arff or .npz file")
    try:
        from aeon.datasets import load_from_arff_file, load_from_ts_file
    except ImportError as error:
        raise ImportError(f"reading {suffix} files needs aeon: {INSTALL} ({error})") from error
    first = _data_line(path)                  # aeon counts cases from 1 on the lines after @data
    try:
        if suffix == ".ts":
            X, y, meta = load_from_ts_file(str(path), return_meta_data=True)
            if meta["targetlabel"]:
                raise ValueError(f"{path} holds regression targets (@targetLabel true), not class labels")
        else:
            X, y = load_from_arff_file(str(path))
    except (OSError, ValueError, IndexError) as error:
        raise ValueError(_located(path, first, str(error))) from None
    if len(X) == 0:
        raise ValueError(f"{path} holds no series after an @data line: is it a {suffix} file?")
    series = [torch.from_numpy(np.asarray(x, dtype=np.float64).T.copy()).float() for x in X]   # (C, T) -> (T, C)
    for i, s in enumerate(series):
        if not torch.isfinite(s).all():        # aeon reads "?" and "NaN" as NaN; the models need every value
            step = int((~torch.isfinite(s)).any(1).nonzero()[0])
            raise ValueError(f"{path}, line {first + i + 1}: a missing or NaN value (at step {step})")
    labels = [str(c) for c in y] if len(y) else None
    return series, labels


def _data_line(path: Path) -> int:
    """The line number of `@data` (0 if there is none)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if line.strip().lower().startswith("@data"):
                return number
    return 0


def _located(path: Path, first: int, message: str) -> str:
    """The reader's message with its case number as the file's line (a blank one named as such)."""
    message = re.sub(r"Error loading <[^>]*>\. ", "", message)        # aeon names the file object
    case = _CASE.search(message)
    if not case or not first:
        return f"{path}: {message}"
    line = first + int(case.group(1))
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if line > len(lines) or not lines[line - 1].strip():
        return f"{path}, line {line}: a blank line after @data; remove it"
    return f"{path}, line {line}: {message}"


def _read_npz(path: Path) -> tuple[list[Tensor], list[str] | None]:
    try:
        archive = np.load(path, allow_pickle=True)          # a ragged X is an object array (see above)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a NumPy .npz archive ({error})") from None
    with archive:
        if "X" not in archive.files:
            raise ValueError(f"{path} holds {archive.files}; save the sequences as X (and labels as y): "
                             "np.savez(path, X=X, y=y)")
        X, y = archive["X"], archive["y"] if "y" in archive.files else None
        lengths = archive["lengths"] if "lengths" in archive.files else None
    series = _npz_series(path, X, lengths)
    check_sequences(series, where=f"{path}, X: ")
    if y is None:
        return series, None
    if y.ndim != 1 or len(y) != len(series):
        raise ValueError(f"{path}: y should hold one label per sequence ({len(series)}), got shape {y.shape}")
    integral = y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0)
    label = lambda v: v.decode() if isinstance(v, bytes) else str(int(v)) if integral else str(v)
    return series, [label(v) for v in y.tolist()]


def _npz_series(path: Path, X: np.ndarray, lengths: np.ndarray | None) -> list[Tensor]:
    if X.dtype == object:
        parts = [np.asarray(x, dtype=np.float32) for x in X]
        return [torch.from_numpy(p[:, None] if p.ndim == 1 else p) for p in parts]     # (T,) is one feature
    if X.ndim not in (2, 3) or X.dtype.kind not in "fiu":
        raise ValueError(f"{path}: X should be numbers of shape (sequences, time, features) or (sequences, time), "
                         f"got {X.dtype} {X.shape}")
    x = torch.from_numpy(np.asarray(X, dtype=np.float32))
    x = x[..., None] if x.dim() == 2 else x                                  # (N, T) -> (N, T, 1)
    if lengths is None:
        return list(x)
    if lengths.shape != (len(x),) or lengths.min() < 1 or lengths.max() > x.size(1):
        raise ValueError(f"{path}: lengths should hold one length in 1..{x.size(1)} per sequence, got "
                         f"shape {lengths.shape}")
    return [s[:n] for s, n in zip(x, lengths.tolist())]
