"""Keeping test text out of a pretraining corpus: the lines of a corpus that contain any of a set
of texts are dropped.

A language model pretrained on text that holds a classifier's test sentences has, in a weak sense,
seen the test set (the UCI sentiment sentences, for one, were cut from IMDB reviews: 63 of its 300
test sentences appear verbatim in the IMDB training reviews). So `task.exclude` of a language
model names the texts to keep out: a .csv/.tsv/.jsonl file with a `text` column, or a plain text
file of one text per line. Texts are compared in the classifier's normal form (lower case,
punctuation split) with their final punctuation stripped; texts of fewer than `min_words` words
are ignored, as such short phrases ("a great movie") occur by chance in unrelated reviews.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path

from .labelled import normalize_text
from .text_tables import JSONL, TSV, read_text_table

MIN_WORDS = 4
TABLES = (".csv", *TSV, *JSONL)


def read_excluded(path: str | Path, *, min_words: int = MIN_WORDS) -> list[str]:
    """The distinct normalised texts of `path` with at least `min_words` words."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"task.exclude = {str(path)!r}: no such file; give a CSV/TSV/JSONL file with a 'text' "
                         "column or a text file of one text per line")
    if path.suffix.lower() in TABLES:
        texts = read_text_table(path, text_column="text", label_column="text")[0]
    else:
        texts = path.read_text(encoding="utf-8").splitlines()
    normal = (normalize_text(t).rstrip(" .!?") for t in texts)
    return list(dict.fromkeys(t for t in normal if len(t.split()) >= min_words))


def drop_lines(text: str, excluded: list[str]) -> tuple[str, int]:
    """`text` without the lines holding any of `excluded` (compared in normal form), and how many
    lines were dropped. One pass of str.find per excluded text over the normalised corpus."""
    lines = text.splitlines(keepends=True)
    normal = [normalize_text(line) + "\n" for line in lines]
    starts, total = [], 0
    for line in normal:
        starts.append(total)
        total += len(line)
    joined = "".join(normal)
    drop: set[int] = set()
    for needle in excluded:
        at = joined.find(needle)
        while at >= 0:
            drop.add(bisect_right(starts, at) - 1)
            at = joined.find(needle, at + 1)
    return "".join(line for i, line in enumerate(lines) if i not in drop), len(drop)
