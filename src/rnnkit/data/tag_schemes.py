"""Chunk tagging schemes and conversion between them. A tag is "O" or "P-TYPE" (P one of B, I, E, S):

    IOB1:   I-X inside a chunk; B-X only starts a chunk right after another X chunk (original CoNLL-2003)
    IOB2:   B-X starts every chunk, I-X continues it ("BIO")
    BIOES:  B-X begins, I-X continues, E-X ends a chunk of two or more tokens; S-X is a one-token chunk

    convert(["I-PER", "I-PER", "O"], "IOB1", "BIOES")       # ["B-PER", "E-PER", "O"]
    check(["O", "I-PER"], "IOB2")                           # ValueError: tag 1 ('I-PER') ...

Conversion goes through the chunks (type, start, end), so it is exact in every direction; the
source sequence must be valid in its scheme, since guessing what an invalid one meant would hide
an error in the data.
"""

from __future__ import annotations

from collections.abc import Sequence

Chunk = tuple[str, int, int]            # (type, start, end): tokens start..end-1
SCHEMES = ("IOB1", "IOB2", "BIO", "BIOES")
PREFIXES = {"IOB1": "BI", "IOB2": "BI", "BIO": "BI", "BIOES": "BIES"}


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """`tags` (valid in `source`) written in `target`."""
    _scheme(target)
    return from_chunks(chunks(tags, source), len(tags), target)


def is_valid(tags: Sequence[str], scheme: str) -> bool:
    try:
        check(tags, scheme)
    except ValueError:
        return False
    return True


def check(tags: Sequence[str], scheme: str) -> None:
    """A ValueError naming the first tag that `scheme` does not allow there, and why."""
    chunks(tags, scheme)


def chunks(tags: Sequence[str], scheme: str) -> list[Chunk]:
    """The chunks of a sequence valid in `scheme` (a ValueError at its first invalid tag)."""
    scheme = _scheme(scheme)
    found: list[Chunk] = []
    open_type, start = None, 0                   # the chunk the previous tag belongs to, if any
    for i, tag in enumerate(tags):
        prefix, kind = _split(tag, i, scheme)
        unclosed = f"the {open_type} chunk begun at tag {start} must end with E-{open_type} first"
        if prefix in "OBS" and scheme == "BIOES" and open_type is not None:
            raise _invalid(tags, i, scheme, unclosed)
        if prefix == "B" and scheme == "IOB1" and open_type != kind:
            raise _invalid(tags, i, scheme, f"IOB1 uses B-{kind} only right after another {kind} chunk; "
                                            f"write I-{kind}")
        if prefix == "I" and scheme != "IOB1" and open_type != kind:
            hint = " (or S- for one token)" if scheme == "BIOES" else ""
            raise _invalid(tags, i, scheme, f"I-{kind} continues a {kind} chunk; begin one with B-{kind}{hint}")
        if prefix == "E" and open_type != kind:
            raise _invalid(tags, i, scheme, f"E-{kind} ends a {kind} chunk; a one-token chunk is S-{kind}")
        if not (prefix in "IE" and open_type == kind):   # else the open chunk goes on
            if open_type is not None:
                found.append((open_type, start, i))
            open_type, start = (None if prefix == "O" else kind), i
        if prefix in "ES":
            found.append((kind, start, i + 1))
            open_type = None
    if open_type is not None:
        if scheme == "BIOES":
            raise ValueError(f"the tags end inside the {open_type} chunk begun at tag {start}, which is not valid "
                             f"BIOES: end it with E-{open_type} (or S-{open_type} for one token)")
        found.append((open_type, start, len(tags)))
    return found


def from_chunks(found: Sequence[Chunk], length: int, scheme: str) -> list[str]:
    """`length` tags in `scheme` marking the non-overlapping chunks `found`."""
    scheme = _scheme(scheme)
    tags = ["O"] * length
    previous_end, previous_type = -1, None
    for kind, start, end in sorted(found, key=lambda c: c[1]):
        if scheme == "BIOES" and end - start == 1:
            tags[start] = f"S-{kind}"
        else:
            tags[start:end] = [f"I-{kind}"] * (end - start)
            if scheme != "IOB1" or (previous_end == start and previous_type == kind):
                tags[start] = f"B-{kind}"
            if scheme == "BIOES":
                tags[end - 1] = f"E-{kind}"
        previous_end, previous_type = end, kind
    return tags


def repair(tags: Sequence[str], scheme: str) -> list[str]:
    """A model's predicted tags in `scheme`, possibly invalid, as valid IOB2 read the way conlleval
    reads them: a chunk starts at B-X or S-X, or at I-X/E-X that does not continue an X chunk, and
    S-X or E-X closes it. Valid input keeps its chunks exactly (repair(convert(t, "IOB2", s), s) == t)."""
    scheme = _scheme(scheme)
    out, open_type = [], None
    for i, tag in enumerate(tags):
        prefix, kind = _split(tag, i, scheme)
        if prefix == "O":
            out.append("O")
        elif prefix in "IE" and open_type == kind:
            out.append(f"I-{kind}")
        else:
            out.append(f"B-{kind}")
        open_type = None if prefix in "OES" else kind
    return out


def tag_set(tags: Sequence[str], scheme: str) -> list[str]:
    """Every tag of `scheme` for the chunk types in `tags`: "O" then each type's prefixes, so a tag
    set read from training data has each type's B-/I-(/E-/S-) even where a split lacks one."""
    scheme = _scheme(scheme)
    kinds = sorted({_split(tag, i, scheme)[1] for i, tag in enumerate(tags)} - {""})
    return ["O"] + [f"{prefix}-{kind}" for kind in kinds for prefix in PREFIXES[scheme]]


def split_tag(tag: str, scheme: str = "BIOES") -> tuple[str, str]:
    """(prefix, type) of one tag: ("O", "") or e.g. ("B", "PER"); a ValueError if `scheme` has no such tag."""
    scheme = _scheme(scheme)
    try:
        return _split(tag, 0, scheme)
    except ValueError:
        raise ValueError(f"tag {tag!r} is not a tag of {scheme}: write O, "
                         f"{', '.join(f'{p}-TYPE' for p in PREFIXES[scheme])}") from None


def _scheme(name: str) -> str:
    scheme = name.upper()
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {name!r}; choose from {', '.join(SCHEMES)}")
    return "IOB2" if scheme == "BIO" else scheme


def _split(tag: str, i: int, scheme: str) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    prefix, dash, kind = tag.partition("-")
    if not dash or not kind or prefix not in PREFIXES[scheme]:
        allowed = ", ".join(f"{p}-TYPE" for p in PREFIXES[scheme])
        raise ValueError(f"tag {i} ({tag!r}) is not a tag of {scheme}: write O, {allowed}")
    return prefix, kind


def _invalid(tags: Sequence[str], i: int, scheme: str, why: str) -> ValueError:
    before = f"after {tags[i - 1]!r}" if i else "at the start"
    return ValueError(f"tag {i} ({tags[i]!r}) {before} is not valid {scheme}: {why}")
