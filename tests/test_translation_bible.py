"""The Bible reader and its book-level split, on small fake SWORD modules written here (no
download): zText index layout, OSIS markup to plain text, alignment, no book in two splits."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from rnnkit.data import bible
from rnnkit.data._kjv_canon import books
from rnnkit.tasks.translation.task import Translation


def write_module(folder: Path, verses: dict[tuple[str, int, int], str]) -> None:
    """A zText module in KJV versification holding `verses` (all other entries empty), one
    compressed block per testament, as osis2mod lays it out."""
    folder.mkdir(parents=True, exist_ok=True)
    canon = books()
    for testament, part in (("ot", canon[:39]), ("nt", canon[39:])):
        entries = ["", "<milestone/>"]
        for book, chapters in part:
            entries.append(f'<div osisID="{book}" type="book"/>')
            for chapter, count in enumerate(chapters, 1):
                entries.append(f'<chapter n="{chapter}"/>')
                entries += [verses.get((book, chapter, verse), "") for verse in range(1, count + 1)]
        block, index = b"", b""
        for text in entries:
            data = text.encode("utf-8")
            index += struct.pack("<IIH", 0, len(block), len(data))
            block += data
        compressed = zlib.compress(block)
        (folder / f"{testament}.bzs").write_bytes(struct.pack("<III", 0, len(compressed), len(block)))
        (folder / f"{testament}.bzv").write_bytes(index)
        (folder / f"{testament}.bzz").write_bytes(compressed)


ENGLISH = {("Genesis", 1, 1): 'In the <w lemma="strong:H7225">beginning</w> God.<note type="x">a note</note>',
           ("Genesis", 1, 2): "And the <divineName>Lord</divineName>&apos;s earth.",
           ("Ruth", 1, 1): "<title>Ruth</title>¶ Now it came to pass.",
           ("John", 3, 16): "For God so loved the world.",
           ("Revelation of John", 22, 21): "The grace of our Lord.",
           ("Numbers", 12, 16): "And afterward the people removed."}
SPANISH = {("Genesis", 1, 1): "EN el principio Dios.", ("Genesis", 1, 2): "Y la tierra.",
           ("Ruth", 1, 1): "Y ACONTECIÓ.", ("John", 3, 16): "Porque de tal manera amó Dios al mundo.",
           ("Revelation of John", 22, 21): "La gracia de nuestro Señor.", ("Numbers", 12, 16): ""}


@pytest.fixture
def modules(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    for language, verses in (("en", ENGLISH), ("es", SPANISH)):
        package, version, _, name = bible.MODULES[language]
        write_module(tmp_path / "cache" / f"{package}-{version}" / bible.FOLDER / name, verses)
    return tmp_path


def test_reads_every_verse_as_plain_text(modules):
    verses = bible.read_module(bible.module_dir("en"))
    assert len(verses) == 31102
    assert verses["Genesis", 1, 1] == "In the beginning God."
    assert verses["Genesis", 1, 2] == "And the LORD's earth."
    assert verses["Ruth", 1, 1] == "Now it came to pass."
    assert verses["Revelation of John", 22, 21] == "The grace of our Lord."
    assert verses["Exodus", 1, 1] == ""


def test_book_split_has_no_overlap_and_counts_one_sided_verses(modules, capsys):
    splits = bible.load_bible(valid_books=("Ruth",), test_books=("John", "Esther"))
    assert splits["valid"] == [("Now it came to pass.", "Y ACONTECIÓ.")]
    assert splits["test"] == [("For God so loved the world.", "Porque de tal manera amó Dios al mundo.")]
    assert len(splits["train"]) == 3
    seen = [set(splits[name]) for name in ("train", "valid", "test")]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    assert "skipped 1 verse(s) empty in one language (e.g. Numbers 12:16)" in capsys.readouterr().err


def test_split_by_books_puts_whole_books_on_one_side():
    pairs = {(book, 1, v): (f"{book} {v}", f"{book} {v}") for book, _ in books()[:10] for v in (1, 2, 3)}
    splits = bible.split_by_books(pairs, ["Ruth"], ["Exodus", "Judges"])
    book_of = lambda pair: pair[0].rsplit(" ", 1)[0]
    parts = {name: {book_of(p) for p in splits[name]} for name in splits}
    assert parts["valid"] == {"Ruth"} and parts["test"] == {"Exodus", "Judges"}
    assert not parts["train"] & (parts["valid"] | parts["test"]) and len(splits["train"]) == 21
    with pytest.raises(ValueError, match="did you mean"):
        bible.split_by_books(pairs, ["Rut"], [])
    with pytest.raises(ValueError, match="both in valid and test"):
        bible.split_by_books(pairs, ["Ruth"], ["Ruth"])


def test_a_module_in_another_versification_is_refused(tmp_path):
    write_module(tmp_path / "m", {})
    with open(tmp_path / "m" / "nt.bzv", "ab") as f:
        f.write(struct.pack("<IIH", 0, 0, 0))
    with pytest.raises(ValueError, match="versification"):
        bible.read_module(tmp_path / "m")


def test_the_task_reads_a_folder_of_modules_and_swaps_direction(modules):
    root = modules / "cache" / "sword-text-kjv-14.3-1" / bible.FOLDER
    spanish = modules / "cache" / "sword-text-sparv-2.60-1" / bible.FOLDER / "spaRV1909eb"
    spanish.rename(root / "spaRV1909eb")
    task = Translation(path=f"bible:{root}", direction="es-en", valid_books=("Ruth",), test_books=("John",))
    raw = task.raw()
    assert raw["valid"] == [("Y ACONTECIÓ.", "Now it came to pass.")]
    with pytest.raises(ValueError, match="lacks"):
        Translation(path=f"bible:{modules}", valid_books=("Ruth",), test_books=()).raw()
