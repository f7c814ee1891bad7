"""The verse-aligned English-Spanish Bible: King James (engKJV2006eb) and Reina-Valera 1909
(spaRV1909eb), both public domain and both in KJV versification, so verse keys align exactly.

    splits = load_bible(valid_books=("Ruth",), test_books=("John",))   # {"train": [(en, es), ...], ...}

The two SWORD modules come from Debian's `sword-text-kjv` and `sword-text-sparv` packages,
downloaded once with `apt-get download` (pinned versions and sha256; see `data.fetch`) and
unpacked into the rnnkit cache; `root` reads them from a folder instead (e.g.
/usr/share/sword/modules/texts/ztext after `apt-get install sword-text-kjv sword-text-sparv`).
They are read here in pure Python, without `diatheke`/libsword (a C++ library and its index
dependencies): a zText module keeps, per testament, zlib-compressed blocks (`.bzz`), a block
table of (offset, size, uncompressed size) uint32 triples (`.bzs`), and one (block, offset,
size) uint32/uint32/uint16 record per index entry (`.bzv`). The entries run: 2 empty/header
entries, then per book a heading entry and per chapter a heading entry followed by its verses,
in the versification's order (data/_kjv_canon.py). Verse text is OSIS XML: notes and titles are
dropped, divine names upper-cased (as diatheke prints them), the rest of the markup stripped.
Checked against `diatheke -f plain` for all 31,102 verses of both modules: the same text (Strong's
tags and pilcrows aside) in every verse but one.

Splits hold whole books, so no test verse has its own parallel in training (put books with
parallel passages, such as Kings and Chronicles or the synoptic gospels, on the same side).
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from ._kjv_canon import books
from .fetch import FetchError, fetch
from .pairs import note

FOLDER = "usr/share/sword/modules/texts/ztext"
MODULES = {   # language: (Debian package, version (bookworm), sha256 of the .deb, module folder)
    "en": ("sword-text-kjv", "14.3-1", "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57",
           "engKJV2006eb"),
    "es": ("sword-text-sparv", "2.60-1", "5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf",
           "spaRV1909eb"),
}
FILES = [f"{testament}.bz{kind}" for testament in ("ot", "nt") for kind in "svz"]
OLD_TESTAMENT_BOOKS = 39
Key = tuple[str, int, int]          # (book, chapter, verse)


def load_bible(*, valid_books: Sequence[str] = (), test_books: Sequence[str] = (),
               root: str | Path | None = None) -> dict[str, list[tuple[str, str]]]:
    """{"train", "valid", "test"} lists of (English, Spanish) verse pairs, split by book. Verses
    empty on either side (RV1909 merges 18 verses into their neighbours) are skipped, counted."""
    english, spanish = (read_module(module_dir(language, root)) for language in ("en", "es"))
    one_sided = [key for key in english if bool(english[key]) != bool(spanish.get(key))]
    if one_sided:
        note(f"bible: skipped {len(one_sided)} verse(s) empty in one language (e.g. {_name(one_sided[0])})")
    both = sum(not english[key] and not spanish.get(key) for key in english)
    if both:
        note(f"bible: skipped {both} verse(s) empty in both languages")
    pairs = {key: (english[key], spanish[key]) for key in english if english[key] and spanish.get(key)}
    return split_by_books(pairs, valid_books, test_books)


def split_by_books(pairs: dict[Key, tuple[str, str]], valid_books: Iterable[str],
                   test_books: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Every verse of a valid (test) book goes to valid (test), all others to train."""
    names = [name for name, _ in books()]
    valid, test = list(valid_books), list(test_books)
    for book in valid + test:
        if book not in names:
            close = [n for n in names if n.lower().startswith(book.lower()[:3])]
            raise ValueError(f"unknown book {book!r}{f'; did you mean {close}' if close else ''}; books are "
                             f"named as SWORD prints them: {', '.join(names)}")
    if set(valid) & set(test):
        raise ValueError(f"books both in valid and test: {sorted(set(valid) & set(test))}")
    where = {**dict.fromkeys(valid, "valid"), **dict.fromkeys(test, "test")}
    out: dict[str, list[tuple[str, str]]] = {"train": [], "valid": [], "test": []}
    for key, pair in pairs.items():
        out[where.get(key[0], "train")].append(pair)
    if not out["valid"]:
        raise ValueError("no validation verses: name at least one book in task.valid_books")
    return out


def module_dir(language: str, root: str | Path | None = None) -> Path:
    """The folder of one module's six files, fetched into the cache unless `root` is given."""
    package, version, sha256, name = MODULES[language]
    if root is not None:
        folder = Path(root) / name
        missing = [f for f in FILES if not (folder / f).is_file()]
        if missing:
            raise ValueError(f"{folder} lacks {', '.join(missing)}: `root` should hold the {name} module folder "
                             f"(Debian package {package}, in /{FOLDER})")
        return folder
    try:
        return fetch(package, version, sha256, [f"{FOLDER}/{name}/{f}" for f in FILES], source="debian")[0].parent
    except FetchError as err:
        raise FetchError(f"{err}. Alternatively install the packages (apt-get install sword-text-kjv "
                         f"sword-text-sparv) and set task.path = \"bible:/{FOLDER}\"") from None


def read_module(folder: Path) -> dict[Key, str]:
    """Every verse of a zText module in KJV versification, as plain text."""
    canon = books()
    verses: dict[Key, str] = {}
    for testament, part in (("ot", canon[:OLD_TESTAMENT_BOOKS]), ("nt", canon[OLD_TESTAMENT_BOOKS:])):
        entries = read_entries(folder, testament)
        index = 2                                            # the module and testament headings
        for book, chapters in part:
            index += 1                                       # the book heading
            for chapter, count in enumerate(chapters, 1):
                index += 1                                   # the chapter heading
                for verse in range(1, count + 1):
                    verses[book, chapter, verse] = plain(entries[index])
                    index += 1
        if index != len(entries):
            raise ValueError(f"{folder}/{testament}: {len(entries)} index entries but the KJV versification has "
                             f"{index}; is the module in another versification?")
    return verses


def read_entries(folder: Path, testament: str) -> list[str]:
    """The raw text of every index entry of one testament's .bzs/.bzv/.bzz files."""
    blocks_table, index, data = (Path(folder, f"{testament}.bz{kind}").read_bytes() for kind in "svz")
    blocks: dict[int, bytes] = {}
    out = []
    for block, start, size in struct.iter_unpack("<IIH", index):
        if size == 0:
            out.append("")
            continue
        if block not in blocks:
            offset, length, _ = struct.unpack_from("<III", blocks_table, 12 * block)
            blocks[block] = zlib.decompress(data[offset:offset + length])
        out.append(blocks[block][start:start + size].decode("utf-8"))
    return out


_DROPPED = re.compile(r"<(note|title)\b[^>]*?(?<!/)>.*?</\1>", re.S)
_DIVINE = re.compile(r"<divineName[^>]*>(.*?)</divineName>", re.S)
_TAG = re.compile(r"<[^>]*>")


def plain(osis: str) -> str:
    """OSIS verse markup -> plain text.

    >>> plain('<w lemma="strong:H3068">the</w> <divineName>Lord</divineName><note>x</note> ¶ said')
    'the LORD said'
    """
    text = _DROPPED.sub("", osis)
    text = _DIVINE.sub(lambda m: _TAG.sub("", m.group(1)).upper().replace("’S", "’s").replace("'S", "'s"),
                       text)                                                   # LORD's, not LORD'S
    text = html.unescape(_TAG.sub("", text)).replace("¶", " ")
    return " ".join(text.split())


def _name(key: Key) -> str:
    return f"{key[0]} {key[1]}:{key[2]}"
