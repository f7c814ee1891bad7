"""Readers for tagged sentences: CoNLL-U treebanks (POS tagging) and CoNLL-style column files
(CoNLL-2003 NER, chunking). Both return `[(words, tags), ...]`, one pair per sentence.

    sentences = read_conllu("en_ewt-ud-train.conllu")             # UPOS tags
    sentences = read_columns("train.txt")                         # word first, tag last

A file that cannot be read as its format is a ValueError naming the file, the line and the fix, so a
bad row is found before any training starts.
"""

from __future__ import annotations

import gzip
import lzma
from collections.abc import Iterator
from pathlib import Path

Sentence = tuple[list[str], list[str]]   # (words, tags), equally long

CONLLU_FIELDS = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")
DOCSTART = "-DOCSTART-"


def read_conllu(path: str | Path, column: str = "upos") -> list[Sentence]:
    """Sentences of a CoNLL-U file with their UPOS or XPOS tags. The words are the syntactic words
    (integer IDs): a multi-word token's range line (`1-2 don't`) and empty nodes (`8.1`) are skipped,
    so "don't" gives "do" and "n't", each with its own tag."""
    if column not in ("upos", "xpos"):
        raise ValueError(f"column must be 'upos' or 'xpos', got {column!r}")
    index = CONLLU_FIELDS.index(column.upper())
    sentences, words, tags = [], [], []
    for number, line in _lines(path):
        if not line.strip():
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")          # FORM may hold spaces in UD 2.x: tabs only separate fields
        if len(fields) != len(CONLLU_FIELDS):
            raise ValueError(f"{path}, line {number}: a CoNLL-U word line has {len(CONLLU_FIELDS)} tab-separated "
                             f"fields ({' '.join(CONLLU_FIELDS)}), this one has {len(fields)}; separate the fields "
                             "by single tabs (not spaces) and write _ for an empty one")
        token_id = fields[0]
        if "-" in token_id or "." in token_id:
            continue                       # a multi-word token's surface form, or an empty node
        if not token_id.isdigit():
            raise ValueError(f"{path}, line {number}: ID {token_id!r} is not a word index (1, 2, ...), a range "
                             "(1-2) or an empty node (1.1); the first field of a word line is its ID")
        if fields[index] == "_":
            raise ValueError(f"{path}, line {number}: no {column.upper()} tag (_) for {fields[1]!r}; this file "
                             f"may not annotate {column.upper()}: read another column "
                             f"(column={'xpos' if column == 'upos' else 'upos'!r})")
        words.append(fields[1])
        tags.append(fields[index])
    if words:
        sentences.append((words, tags))
    return _nonempty(sentences, path, "CoNLL-U word lines (ID FORM LEMMA UPOS ...)")


def read_columns(path: str | Path, word_column: int = 0, tag_column: int = -1) -> list[Sentence]:
    """Sentences of a whitespace-separated column file (one token a line, a blank line between
    sentences), e.g. CoNLL-2003's `word POS chunk NER`. `-DOCSTART-` lines are dropped. Every token
    line must have as many columns as the first one."""
    sentences, words, tags, width = [], [], [], 0
    for number, line in _lines(path):
        columns = line.split()
        if not columns:
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        if columns[0] == DOCSTART:
            continue
        if not width:
            width = len(columns)
            for name, at in (("word_column", word_column), ("tag_column", tag_column)):
                if not -width <= at < width:
                    raise ValueError(f"{path}, line {number}: {name}={at} but the line has {width} columns; "
                                     f"choose a column from 0 to {width - 1} (or -1 for the last)")
        elif len(columns) != width:
            raise ValueError(f"{path}, line {number}: {len(columns)} columns where the file's first token line "
                             f"has {width}; every token line needs the same columns, separated by whitespace "
                             "(a word cannot contain spaces), and a blank line ends a sentence")
        words.append(columns[word_column])
        tags.append(columns[tag_column])
    if words:
        sentences.append((words, tags))
    return _nonempty(sentences, path, "token lines (word ... tag)")


def _bytes(path: str | Path) -> bytes:
    """The file's bytes, decompressed when it ends in .xz or .gz (the vendored treebank is xz:
    a quarter of the size)."""
    path = Path(path)
    if path.suffix == ".xz":
        return lzma.decompress(path.read_bytes())
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    return path.read_bytes()


def _lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its end) for each line; a ValueError if not UTF-8."""
    data = _bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ValueError(f"{path}, line {line}: byte 0x{data[err.start]:02x} is not UTF-8; convert the file to "
                         "UTF-8 (e.g. `iconv -f latin1 -t utf-8 FILE > FILE.utf8`)") from None
    if not text.strip():
        raise ValueError(f"{path}, line 1: the file is empty; point to a file with one token a line and a blank "
                         "line between sentences")
    # split("\n"), not splitlines(): the latter also splits at \x1c, \x85 or \u2028, which a word may hold
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")


def _nonempty(sentences: list[Sentence], path: str | Path, expected: str) -> list[Sentence]:
    if not sentences:
        lines = _bytes(path).count(b"\n") + 1
        raise ValueError(f"{path}, line {lines}: no sentences in the file (only comments, -DOCSTART- or blank "
                         f"lines); expected {expected}")
    return sentences
