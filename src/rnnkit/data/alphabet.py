"""Characters as CTC targets: the alphabet, text normalisation and the CTC feasibility check.

    alphabet = Alphabet()                            # blank, space, a-z, apostrophe: 29 classes
    ids = alphabet.encode(normalize("Three  ONE"), name="utt-17")    # [21, 9, 19, 6, 6, 1, 16, 15, 6]
    alphabet.decode(ids)                             # "three one"
    check_ctc_feasible(n_frames=40, target=ids, name="utt-17")

Index 0 is the CTC blank (Graves et al. 2006), so a model's output size is `len(alphabet)` and
`torch.nn.CTCLoss(blank=0)` needs no arguments changed. Character i of `characters` has id i + 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BLANK = 0
ENGLISH = " abcdefghijklmnopqrstuvwxyz'"          # the Deep Speech character set (Hannun et al. 2014)


@dataclass(frozen=True)
class Alphabet:
    """The output classes of a CTC model: blank (id 0), then one id per character."""

    characters: str = ENGLISH

    def __post_init__(self) -> None:
        if not self.characters:
            raise ValueError("an Alphabet needs at least one character")
        repeated = sorted({c for c in self.characters if self.characters.count(c) > 1})
        if repeated:
            raise ValueError(f"characters must be distinct; repeated: {repeated}")

    def __len__(self) -> int:
        return len(self.characters) + 1                                     # + the blank

    @property
    def blank(self) -> int:
        return BLANK

    @property
    def space(self) -> int | None:
        """The id of " " (the word boundary for word language models and lexicons), if present."""
        return self.characters.index(" ") + 1 if " " in self.characters else None

    def encode(self, text: str, name: str | None = None) -> list[int]:
        """Character ids of `text`; a ValueError lists every character outside the alphabet and
        names the utterance or file `name`, so a bad transcript can be found and fixed."""
        index = {c: i + 1 for i, c in enumerate(self.characters)}
        bad = sorted({c for c in text if c not in index})
        if bad:
            where = f" in {name}" if name else ""
            raise ValueError(f"transcript{where} has characters outside the alphabet: {bad} (text {text!r}); "
                             f"normalize() the text, remove those characters, or build Alphabet(characters=...) "
                             f"with them. The alphabet is {self.characters!r}")
        return [index[c] for c in text]

    def decode(self, ids: Sequence[int]) -> str:
        """The text of character ids (already collapsed by a CTC decoder); blanks are skipped."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self):
                raise ValueError(f"id {i} is outside this alphabet's range 0..{len(self) - 1}")
            if i != BLANK:
                out.append(self.characters[i - 1])
        return "".join(out)


def normalize(text: str) -> str:
    """Lower case, typographic apostrophes as "'", runs of whitespace as one space, no leading or
    trailing space: the form transcripts are encoded and scored in (WER splits on spaces)."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.split())


def ctc_frames_needed(target: Sequence[int] | str) -> int:
    """The fewest input frames that can emit `target` under CTC: one per label, plus one blank
    between each pair of equal neighbours, which would otherwise merge (Graves et al. 2006, sec. 4.1)."""
    return len(target) + sum(a == b for a, b in zip(target, target[1:]))


def check_ctc_feasible(n_frames: int, target: Sequence[int] | str, name: str | None = None) -> None:
    """Raises ValueError when `n_frames` input frames are too few for `target` (ids or text):
    the CTC loss of such a pair is infinite, and with zero_infinity it would silently train on nothing."""
    needed = ctc_frames_needed(target)
    if n_frames < needed:
        where = f"{name}: " if name else ""
        repeats = needed - len(target)
        raise ValueError(f"{where}{n_frames} input frames cannot hold a CTC alignment of a {len(target)}-label "
                         f"transcript ({repeats} repeated neighbour(s) need a blank between them, so {needed} "
                         f"frames are needed). Check that the transcript belongs to this audio, use a smaller "
                         f"hop length or less time subsampling, or drop the utterance")
