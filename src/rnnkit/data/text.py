"""Text for language models: tokenisers, the vocabulary, and stream batching.

`Vocab` maps tokens to ids at one of three levels:

- "char": every character is a token; characters unseen in training read as `UNK_CHAR`;
- "word": whitespace-separated words with `<eos>` at each line end (the Mikolov PTB
  convention), capped by `max_size` / `min_count`, the rest reading as `<unk>`;
- "bpe": byte-level subwords trained with HF `tokenizers` (optional extra `rnnkit[bpe]`).

A vocabulary saves to and loads from JSON, so generation and evaluation need only the run
directory. `batchify_stream` lays a token stream out as B parallel rows of (inputs, next-token
targets) and `stream_chunks` cuts those into truncated-BPTT chunks.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from .batch import Batch

Level = Literal["char", "word", "bpe"]
LEVELS: tuple[str, ...] = ("char", "word", "bpe")
UNK, EOS = "<unk>", "<eos>"
UNK_CHAR = "\ufffd"  # the char-level stand-in for characters not seen in training


class Vocab:
    """Tokens <-> ids. Build one with `Vocab.build(train_text, level=...)`."""

    def __init__(self, tokens: list[str], *, level: Level, bpe: str | None = None) -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown tokenisation level {level!r}; choose one of {list(LEVELS)}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.level, self.tokens, self.bpe = level, list(tokens), bpe
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.unk = UNK_CHAR if level == "char" else UNK
        self._tokenizer = None
        if level == "bpe":
            if bpe is None:
                raise ValueError("a bpe vocabulary needs its trained tokenizer (the `bpe` JSON string)")
            self._tokenizer = _bpe_module().Tokenizer.from_str(bpe)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and (self.level, self.tokens, self.bpe) == (other.level, other.tokens,
                                                                                     other.bpe)

    # ---- building --------------------------------------------------------------------------
    @classmethod
    def build(cls, text: str, *, level: Level = "char", max_size: int | None = None,
              min_count: int = 1) -> Vocab:
        """The vocabulary of `text` (the training split): the `max_size` most frequent tokens
        seen at least `min_count` times (ties broken by first appearance), plus the unknown
        token (and `<eos>` at word level). For bpe, `max_size` is the target subword count."""
        if not text.strip():
            raise ValueError("cannot build a vocabulary from empty text; the training split has no tokens")
        if min_count < 1 or (max_size is not None and max_size < 2):
            raise ValueError(f"need min_count >= 1 and max_size >= 2 (or None), got {min_count}, {max_size}")
        if level == "bpe":
            return cls._build_bpe(text, max_size or 8000, min_count)
        if level not in LEVELS:
            raise ValueError(f"unknown tokenisation level {level!r}; choose one of {list(LEVELS)}")
        counts = Counter(text) if level == "char" else Counter(split_words(text))
        special = [UNK_CHAR] if level == "char" else [UNK, EOS]
        kept = [t for t, n in counts.most_common() if n >= min_count and t not in special]
        if max_size is not None:
            kept = kept[: max_size - len(special)]
        if level == "char":
            kept = sorted(kept)                       # readable ids: "\n", " ", "!", ... "z"
        return cls(special + kept, level=level)

    @classmethod
    def _build_bpe(cls, text: str, size: int, min_count: int) -> Vocab:
        tk = _bpe_module()
        tokenizer = tk.Tokenizer(tk.models.BPE(unk_token=UNK))
        tokenizer.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = tk.decoders.ByteLevel()
        trainer = tk.trainers.BpeTrainer(vocab_size=size, min_frequency=min_count, special_tokens=[UNK],
                                         initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
                                         show_progress=False)
        tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer=trainer)
        vocab = tokenizer.get_vocab()
        return cls(sorted(vocab, key=vocab.__getitem__), level="bpe", bpe=tokenizer.to_str())

    # ---- encoding --------------------------------------------------------------------------
    def split(self, text: str) -> list[str]:
        """The tokens of `text`, before mapping to ids (unknown ones included as they are)."""
        if self.level == "char":
            return list(text)
        if self.level == "word":
            return split_words(text)
        return self._tokenizer.encode(text).tokens

    def unknown(self, text: str) -> list[str]:
        """The distinct tokens of `text` that are not in the vocabulary, in order of appearance."""
        return list(dict.fromkeys(t for t in self.split(text) if t not in self.index))

    def encode(self, text: str) -> Tensor:
        """Token ids of `text` as a (N,) int64 tensor; unknown tokens map to the unknown id."""
        unk = self.index[self.unk]
        if self.level == "bpe":
            ids = self._tokenizer.encode(text).ids
        else:
            ids = [self.index.get(t, unk) for t in self.split(text)]
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids: Tensor | list[int]) -> str:
        ids = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        if self.level == "bpe":
            return self._tokenizer.decode(ids, skip_special_tokens=False)
        if self.level == "char":
            return "".join(self.tokens[i] for i in ids)
        words, out = [self.tokens[i] for i in ids], []
        for k, word in enumerate(words):                  # words joined by spaces, <eos> -> newline
            out.append(self.decode_word(word, first=k == 0 or words[k - 1] == EOS))
        return "".join(out)

    def decode_token(self, i: int, *, first: bool = False) -> str:
        """One token's text as it streams out: words get a leading space (unless `first`)."""
        if self.level == "char":
            return self.tokens[i]
        if self.level == "bpe":
            return self.decode([i])
        return self.decode_word(self.tokens[i], first=first)

    @staticmethod
    def decode_word(word: str, *, first: bool) -> str:
        return "\n" if word == EOS else (word if first else " " + word)

    # ---- saving ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": "rnnkit.vocab/1", "level": self.level, "tokens": self.tokens, "bpe": self.bpe}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        if d.get("format") != "rnnkit.vocab/1":
            raise ValueError("not an rnnkit vocabulary file (missing format 'rnnkit.vocab/1')")
        return cls(d["tokens"], level=d["level"], bpe=d.get("bpe"))

    def save(self, path: str | Path) -> None:
        """Writes JSON to a temporary file in the same directory, then renames it into place."""
        write_atomic(Path(path), json.dumps(self.to_dict(), ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no vocabulary at {path}: is this a language-model run directory?")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def split_words(text: str) -> list[str]:
    """Whitespace words with `<eos>` after every non-empty line (Mikolov et al. 2010)."""
    return [w for line in text.splitlines() if line.split() for w in (*line.split(), EOS)]


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _bpe_module():
    try:
        import tokenizers
    except ImportError as e:
        raise ImportError("BPE tokenisation needs HF tokenizers: pip install 'rnnkit[bpe]' "
                          "(or pip install tokenizers)") from e
    return tokenizers


# ---- streams -----------------------------------------------------------------------------------
def batchify_stream(ids: Tensor, batch_size: int) -> Batch:
    """Lays a (N,) token stream out as B parallel rows of L = (N - 1) // B steps: inputs
    ids[bL : (b+1)L] and next-token targets ids[bL + 1 : (b+1)L + 1] in row b. Every token but
    the first (and the few past B L + 1) is a target exactly once. Row b of one chunk continues
    row b of the previous chunk, so the state is carried across chunks."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    length = (ids.numel() - 1) // batch_size
    if length < 1:
        raise ValueError(f"a stream of {ids.numel()} tokens is too short for {batch_size} rows; "
                         "use a smaller batch size or more text")
    inputs = ids[: batch_size * length].view(batch_size, length)                  # (B, L)
    targets = ids[1: batch_size * length + 1].view(batch_size, length)            # (B, L)
    return Batch(inputs, targets)


def chunk_lengths(total: int, bptt: int, *, random_length: bool = False,
                  generator: torch.Generator | None = None) -> list[int]:
    """The chunk lengths that cover `total` steps. With `random_length`, AWD-LSTM's variable
    BPTT (Merity et al. 2017, section 4.1): bptt with probability 0.95, else bptt / 2, then
    N(that, 5) rounded, at least 5 steps."""
    lengths, done = [], 0
    while done < total:
        n = bptt
        if random_length:
            base = bptt if torch.rand((), generator=generator).item() < 0.95 else bptt / 2
            n = max(5, round(base + 5 * torch.randn((), generator=generator).item()))
        n = min(n, total - done)
        lengths.append(n)
        done += n
    return lengths


def stream_chunks(stream: Batch, bptt: int, *, random_length: bool = False,
                  generator: torch.Generator | None = None) -> Iterator[Batch]:
    """Truncated-BPTT chunks of a (B, L) stream: columns [i, i + n) of inputs and targets."""
    if bptt < 1:
        raise ValueError(f"bptt must be >= 1, got {bptt}")
    i = 0
    for n in chunk_lengths(stream.inputs.size(1), bptt, random_length=random_length, generator=generator):
        yield Batch(stream.inputs[:, i:i + n], stream.targets[:, i:i + n])       # (B, n) each
        i += n


def perplexity_metrics(total_nll: float, count: int, *, level: Level) -> dict[str, float]:
    """Metrics from the summed negative log-likelihood (nats) over `count` target tokens:
    loss (mean nats), ppl = exp(loss) and, at char level, bpc = loss / ln 2."""
    if count == 0:
        raise ValueError("no target tokens to evaluate")
    loss = total_nll / count
    metrics = {"loss": loss, "ppl": math.exp(min(loss, 700.0))}
    if level == "char":
        metrics["bpc"] = loss / math.log(2)
    return metrics
