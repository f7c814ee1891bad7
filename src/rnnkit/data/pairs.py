"""Sentence pairs for translation: TSV files, checks that count what they skip, encoding with
bos/eos, and length-bucketed batches.

    pairs = read_pairs("train.tsv")                 # [(source, target), ...]; blank lines and pairs
                                                    # with an empty side are skipped, with a count
    split = encode_pairs(pairs, source_vocab, target_vocab, max_length=100)
    split.inputs (N, T) source ids, lengths (N,); targets (N, S + 2) = bos ids eos, target_lengths
    (N,) = S + 1 decoder steps. Sides longer than max_length tokens are cut to it, with a count.

Target ids: the target vocabulary's own ids, then bos = len(vocab), eos = len(vocab) + 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from .batch import Batch
from .labelled import bucket_batches, pad
from .text import EOS, Vocab


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(source, target) pairs from a UTF-8 file of `source<TAB>target` lines. Blank lines are
    skipped; a pair with an empty side is skipped and counted (the note names the first lines);
    a line without a tab is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no file at {path}; give a TSV of source<TAB>target lines")
    pairs, blank, one_sided = [], 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            blank += 1
            continue
        if "\t" not in line:
            raise ValueError(f"{path}, line {number}: no tab; each line must be source<TAB>target")
        source, target = (side.strip() for side in line.split("\t")[:2])
        if not source or not target:
            one_sided.append(number)
            continue
        pairs.append((source, target))
    if blank:
        note(f"{path}: skipped {blank} blank line(s)")
    if one_sided:
        note(f"{path}: skipped {len(one_sided)} pair(s) with an empty side (lines {_first(one_sided)})")
    if not pairs:
        raise ValueError(f"{path} holds no sentence pairs")
    return pairs


def drop_one_sided(pairs: Sequence[tuple[str, str]], *, where: str) -> list[tuple[str, str]]:
    """`pairs` without those that have an empty side (counted in a note)."""
    kept = [(s.strip(), t.strip()) for s, t in pairs if s.strip() and t.strip()]
    if len(kept) < len(pairs):
        note(f"{where}: skipped {len(pairs) - len(kept)} pair(s) with an empty side")
    return kept


def token_ids(vocab: Vocab, text: str) -> Tensor:
    """One sentence's ids (a word vocabulary's end-of-line token removed)."""
    ids = vocab.encode(text)
    if vocab.level == "word" and ids.numel() and ids[-1] == vocab.index[EOS]:
        ids = ids[:-1]
    return ids


def encode_side(texts: Sequence[str], vocab: Vocab, max_length: int, *, where: str) -> list[Tensor]:
    """Each text's ids, cut to max_length tokens (the cut ones are counted in a note); a text
    with no tokens left is an error naming its row."""
    out, cut = [], 0
    for row, text in enumerate(texts):
        ids = token_ids(vocab, text)
        if ids.numel() == 0:
            raise ValueError(f"{where}row {row}: {text!r} has no tokens")
        if ids.numel() > max_length:
            ids, cut = ids[:max_length], cut + 1
        out.append(ids)
    if cut:
        note(f"{where}{cut} of {len(texts)} sentence(s) longer than max_length = {max_length} tokens were cut "
             "to it (raise task.max_length to keep them whole)")
    return out


def encode_pairs(pairs: Sequence[tuple[str, str]], source: Vocab, target: Vocab, *, max_length: int,
                 where: str = "") -> Batch:
    src = encode_side([s for s, _ in pairs], source, max_length, where=f"{where}source ")
    tgt = encode_side([t for _, t in pairs], target, max_length, where=f"{where}target ")
    bos, eos = len(target), len(target) + 1
    full = [torch.cat([torch.tensor([bos]), ids, torch.tensor([eos])]) for ids in tgt]
    inputs, lengths = pad(src)
    targets, target_lengths = pad(full)
    return Batch(inputs, targets, lengths, target_lengths - 1)


def bucketed_pairs(split: Batch, batch_size: int, *, seed: int = 0, filler_length: int = 1) -> Batch:
    """The split as K fixed batches of similar source lengths: (K, B, ...) tensors. The last
    batch is filled up with rows of source length `filler_length` and no target steps (they add
    no loss; a task that drops them before its model can mark them with length 0)."""
    groups = bucket_batches(split.lengths, batch_size, seed=seed)
    index = torch.full((len(groups), batch_size), len(split), dtype=torch.long)   # the filler row
    for k, group in enumerate(groups):
        index[k, : len(group)] = group
    extend = lambda t, value: torch.cat([t, torch.full_like(t[:1], value)])
    return Batch(extend(split.inputs, 0)[index], extend(split.targets, 0)[index],
                 extend(split.lengths, filler_length)[index],
                 extend(split.target_lengths, 0)[index])


def trimmed(batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(source, lengths, targets, target_lengths) cut to the batch's longest sentences; a
    bucketed batch of (K, B, ...) examples is flattened to K B first."""
    x, n, y, m = batch.inputs, batch.lengths, batch.targets, batch.target_lengths
    if n.dim() == 2:
        x, n, y, m = x.flatten(0, 1), n.flatten(), y.flatten(0, 1), m.flatten()
    return x[:, : int(n.max())], n, y[:, : int(m.max()) + 1], m


def _first(lines: list[int], count: int = 5) -> str:
    return ", ".join(map(str, lines[:count])) + (", ..." if len(lines) > count else "")
