"""Tagged sentences in, tensors out: where a tagging run's sentences come from, and the word
vocabulary, character alphabet and tag set that turn them into ids.

    path = "ewt"           UD English-EWT r2.16 (bundled), its train/dev/test files
    path = "conll2003"     CoNLL-2003 English (fetched once), its train/valid/test files
    path = a folder        train.* plus optional dev.* or valid.*, and test.* (.conllu or column files)
    path = a file          one .conllu or column file, split by valid_fraction and test_fraction

A split becomes one Batch: inputs (N, L, 1 + C) int32, each word's id then its first C
characters' ids (0 = padding, 1 = unknown), targets (N, L) tag ids (FILLER after each sentence),
lengths (N,) words per sentence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ...data.batch import Batch
from ...data.conll import Sentence, read_columns, read_conllu
from ...data.labelled import FILLER, split_fractions
from ...data.tag_schemes import convert, tag_set
from ...data.tagged_corpora import conll2003_paths, ewt_paths

PAD, UNK = "<pad>", "<unk>"
SPLIT_NAMES = {"train": ("train",), "valid": ("dev", "valid", "validation"), "test": ("test",)}


@dataclass(frozen=True)
class Source:
    """Where the sentences are and how to read them."""

    path: str
    column: str = "upos"            # CoNLL-U files: upos or xpos
    word_column: int = 0            # column files: the word's column
    tag_column: int = -1            # column files: the tag's column (-1 = last)

    def read(self, file: Path) -> list[Sentence]:
        name = file.name.removesuffix(".xz").removesuffix(".gz")
        if name.endswith(".conllu"):
            return read_conllu(file, self.column)
        return read_columns(file, self.word_column, self.tag_column)

    def splits(self) -> dict[str, list[Sentence]]:
        """{"train": ..., "valid": ..., "test": ...} as the source has them (a single file: train only)."""
        if self.path == "ewt":
            return dict(zip(("train", "valid", "test"), (self.read(p) for p in ewt_paths())))
        if self.path == "conll2003":
            return dict(zip(("train", "valid", "test"), (self.read(p) for p in conll2003_paths())))
        root = Path(self.path)
        if root.is_file():
            return {"train": self.read(root)}
        if not root.is_dir():
            raise FileNotFoundError(f"task.path = {self.path!r} is neither 'ewt', 'conll2003', a file nor a folder")
        found = {}
        for split, stems in SPLIT_NAMES.items():
            files = sorted(f for f in root.iterdir() if f.is_file() and f.name.split(".")[0] in stems)
            if files:
                found[split] = self.read(files[0])
        if "train" not in found:
            raise FileNotFoundError(f"{root} has no train.* file; name the files train.conllu (or train.txt), "
                                    "dev.* and test.*")
        return found


def carve(splits: dict[str, list[Sentence]], valid_fraction: float, test_fraction: float,
          seed: int) -> dict[str, list[Sentence]]:
    """The valid (and test) sentences a source lacks, split off its training sentences by a seeded shuffle."""
    test_fraction = 0.0 if "test" in splits else test_fraction
    if "valid" in splits and not test_fraction:
        return splits
    train = splits["train"]
    parts = split_fractions(len(train), valid_fraction, test_fraction, seed)
    out = {name: part for name, part in splits.items() if name != "train"}
    for name, index in zip(("train", "valid", "test"), parts):
        if len(index) and name not in out:
            out[name] = [train[i] for i in index]
    return out


@dataclass(frozen=True)
class Encoding:
    """How words, characters and tags become ids: what a run keeps in meta.json."""

    words: list[str]                # [PAD, UNK, most frequent first...]
    alphabet: list[str]             # [PAD, UNK, characters...]
    tags: list[str]                 # the model's output tags, in the training scheme
    singletons: int                 # words[singletons:] occur once in training (word dropout replaces them)
    lowercase: bool = True
    digits: bool = True             # every digit read as 0
    max_chars: int = 0              # characters of each word read (0 = no character encoder)

    @staticmethod
    def build(train: Sequence[Sentence], *, min_count: int, tags: list[str], lowercase: bool, digits: bool,
              max_chars: int) -> Encoding:
        counts = Counter(normal(w, lowercase, digits) for words, _ in train for w in words)
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        letters = Counter(c for words, _ in train for w in words for c in w)
        return Encoding([PAD, UNK, *kept], [PAD, UNK, *sorted(letters)], tags,
                        2 + sum(counts[w] > 1 for w in kept), lowercase, digits, max_chars)

    def encode(self, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs (N, L, 1 + C) int32, lengths (N,)) of tokenised sentences."""
        if not sentences or any(not s for s in sentences):
            raise ValueError("every sentence needs at least one token")
        index, letters = {w: i for i, w in enumerate(self.words)}, {c: i for i, c in enumerate(self.alphabet)}
        lengths = torch.tensor([len(s) for s in sentences])
        inputs = torch.zeros(len(sentences), int(lengths.max()), 1 + self.max_chars, dtype=torch.int32)
        for b, sentence in enumerate(sentences):
            inputs[b, :len(sentence), 0] = torch.tensor([index.get(normal(w, self.lowercase, self.digits), 1)
                                                         for w in sentence], dtype=torch.int32)
            for t, word in enumerate(sentence):
                chars = [letters.get(c, 1) for c in word[:self.max_chars]]
                inputs[b, t, 1:1 + len(chars)] = torch.tensor(chars, dtype=torch.int32)
        return inputs, lengths

    def batch(self, sentences: Sequence[Sentence], where: str) -> Batch:
        """A split of tagged sentences (tags in the training scheme) as one Batch."""
        inputs, lengths = self.encode([words for words, _ in sentences])
        ids = {t: i for i, t in enumerate(self.tags)}
        targets = torch.full(inputs.shape[:2], FILLER, dtype=torch.long)
        for b, (_, tags) in enumerate(sentences):
            unknown = sorted(set(tags) - ids.keys())
            if unknown:
                raise ValueError(f"{where}sentence {b + 1} has tags the training sentences never use: "
                                 f"{', '.join(unknown[:5])}; add sentences with them to the training file")
            targets[b, :len(tags)] = torch.tensor([ids[t] for t in tags])
        return Batch(inputs, targets, lengths)

    def to_dict(self) -> dict:
        return {"words": self.words, "alphabet": self.alphabet, "tags": self.tags, "singletons": self.singletons,
                "lowercase": self.lowercase, "digits": self.digits, "max_chars": self.max_chars}

    @staticmethod
    def from_dict(d: dict) -> Encoding:
        return Encoding(**d)


def normal(word: str, lowercase: bool, digits: bool) -> str:
    """A word as the vocabulary holds it: lower-cased and every digit 0 where asked (Lample et al.
    2016 map digits to 0; the character encoder still sees the word as written)."""
    if lowercase:
        word = word.lower()
    if digits:
        word = "".join("0" if c.isdigit() else c for c in word)
    return word


def training_tags(splits: dict[str, list[Sentence]], scheme: str, train_scheme: str) -> tuple[
        dict[str, list[Sentence]], list[str]]:
    """Every split's tags in the training scheme (the source's `scheme` converted, each sentence
    checked), and the model's tag set: every chunk type's prefixes where there is a scheme, else
    the plain tags (part of speech) of the training split, sorted."""
    if not scheme:
        tags = sorted({t for _, ts in splits["train"] for t in ts})
        return splits, tags
    out = {}
    for name, part in splits.items():
        converted = []
        for i, (words, tags) in enumerate(part):
            try:
                converted.append((words, convert(tags, scheme, train_scheme)))
            except ValueError as error:
                raise ValueError(f"{name} sentence {i + 1} ({' '.join(words[:8])} ...): {error}; set task.scheme "
                                 "to the scheme the file uses") from None
        out[name] = converted
    return out, tag_set([t for _, ts in out["train"] for t in ts], train_scheme)
