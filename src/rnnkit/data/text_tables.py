"""Labelled texts from a table file, chosen by extension: CSV (a header row), TSV (.tsv, .tab; a
header row, no quoting) or JSON Lines (.jsonl, .ndjson; one object per line). The text and label
columns are named the same way in all three.

    texts, labels = read_text_table("reviews.csv", text_column="review", label_column="sentiment")
    texts, labels = read_text_table("reviews.jsonl")       # {"text": "...", "label": "pos"} per line

A missing column, an empty text or label, or a line that is not a JSON object is a ValueError
naming the file and line.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

TSV, JSONL = (".tsv", ".tab"), (".jsonl", ".ndjson")
SUFFIXES = (".csv", *TSV, *JSONL)


def read_text_table(path: str | Path, *, text_column: str = "text",
                    label_column: str = "label") -> tuple[list[str], list[str]]:
    """(texts, labels) from a CSV, TSV or JSON Lines file (any other extension is read as CSV)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no file at {path}; give a CSV, TSV (.tsv) or JSON Lines (.jsonl) file")
    try:
        if path.suffix.lower() in JSONL:
            rows = _jsonl_rows(path, text_column, label_column)
        else:
            rows = _delimited_rows(path, text_column, label_column, tsv=path.suffix.lower() in TSV)
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise ValueError(f"{path} is not UTF-8 text (line {line}, byte {e.start}: {e.object[e.start:e.start + 1]!r}); "
                         f"convert it first, e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}"
                         ) from None
    texts, labels = [], []
    for line, text, label in rows:
        if not text:
            raise ValueError(f"{path}, line {line}: empty text")
        if not label:
            raise ValueError(f"{path}, line {line}: empty label")
        texts.append(text)
        labels.append(label)
    if not texts:
        raise ValueError(f"{path} holds no rows" + ("" if path.suffix.lower() in JSONL else " after its header"))
    return texts, labels


def _delimited_rows(path: Path, text_column: str, label_column: str, *, tsv: bool) -> list[tuple[int, str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        # TSV has no quoting (IANA text/tab-separated-values): a review that starts with a quote
        # mark must stay as written, as GLUE's and most exported TSVs expect.
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if tsv else csv.DictReader(f)
        _check_columns(path, reader.fieldnames or [], text_column, label_column)
        return [(reader.line_num, (row.get(text_column) or "").strip(), (row.get(label_column) or "").strip())
                for row in reader]


def _jsonl_rows(path: Path, text_column: str, label_column: str) -> list[tuple[int, str, str]]:
    rows = []
    with open(path, encoding="utf-8-sig") as f:
        for line, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {line}: not JSON ({error.msg}, column {error.colno})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}, line {line}: expected a JSON object, got {type(row).__name__}")
            _check_columns(path, list(row), text_column, label_column, line=line)
            text, label = row[text_column], row[label_column]
            if not isinstance(text, str) or isinstance(label, (dict, list)) or label is None:
                raise ValueError(f"{path}, line {line}: the text must be a string and the label a string or "
                                 f"number, got {type(text).__name__} and {type(label).__name__}")
            rows.append((line, text.strip(), str(label).strip()))
    return rows


def _check_columns(path: Path, columns: list[str], text_column: str, label_column: str, *, line: int = 0) -> None:
    for name, what in ((text_column, "text"), (label_column, "label")):
        if name not in columns:
            where = f"{path}, line {line}" if line else str(path)
            raise ValueError(f"{where} has no {what} column {name!r} (its columns: {columns}); "
                             f"set task.{what}_column")
