"""A folder of audio files with their transcripts, and the pocketsphinx test recordings.

    utts = read_transcribed_dir("my_corpus")        # [Utterance(path, text, speaker), ...]
    utts = load_pocketsphinx_testdata()             # 10 real recordings (LibriVox and card names)

The folder holds one transcripts file, in either of two forms:

    transcripts.tsv                    relative/path.wav<TAB>text[<TAB>speaker]    one utterance a line
    transcription or *.transcription   <s> text </s> (utterance_id)                Sphinx style

In the Sphinx form the audio is the file under the folder named utterance_id plus .wav, .flac
or .ogg. Blank lines and lines starting with "#" are skipped. Text is lower-cased with whitespace
collapsed, and Sphinx markers such as <s>, </s> and <sil> are dropped; checking it against an
alphabet is the alphabet's job. The speaker is the tsv's third column, or else the name of the
folder that holds the audio file (use one folder per speaker for speaker-disjoint splits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .fetch import fetch

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
_SPHINX_LINE = re.compile(r"^(?P<text>.*)\((?P<id>[^()\s]+)\)\s*$")     # "text (id)"; the id has no spaces
_MARKER = re.compile(r"<[^<>\s]*>")                                     # <s>, </s>, <sil>

PACKAGE, VERSION = "pocketsphinx-testdata", "0.8+5prealpha+1-15"        # Debian bookworm, BSD-2 (CMU)
SHA256 = "eaeb7a01d54f20b799d1a81ef110ec544b2cb47ea006614078220737a33019f0"
FOLDER = "usr/share/pocketsphinx/test/data"
LIBRIVOX = [f"sense_and_sensibility_01_austen_64kb-{n:04d}.wav" for n in (870, 880, 890, 920, 930)]
MEMBERS = ([f"librivox/{name}" for name in ["transcription", *LIBRIVOX]]
           + [f"cards/{name}" for name in ["cards.transcription", *(f"00{i}.wav" for i in range(1, 6))]])


@dataclass(frozen=True)
class Utterance:
    path: Path           # an audio file
    text: str            # normalised transcript: lower case, single spaces
    speaker: str         # for speaker- (or voice-) disjoint splits


def normalize_text(text: str) -> str:
    """'<s> TEN of  Clubs </s>' -> 'ten of clubs'."""
    return " ".join(_MARKER.sub(" ", text).lower().split())


def read_transcribed_dir(path: str | Path, *, transcripts: str | Path | None = None) -> list[Utterance]:
    """The utterances listed in the folder's transcripts file (or in `transcripts`), in file order.
    Audio files the transcripts do not mention are ignored."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder; point it at a folder of audio files with a "
                                "transcripts.tsv or Sphinx .transcription file")
    file = Path(transcripts) if transcripts is not None else _find_transcripts(root)
    if not file.is_file():
        raise FileNotFoundError(f"transcripts file {file} does not exist")
    lines = [(n, line.strip()) for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    read = _read_tsv if file.suffix == ".tsv" else _read_sphinx
    utts = read(root, file, lines)
    if not utts:
        raise ValueError(f"{file} lists no utterances")
    return utts


def load_pocketsphinx_testdata(root: str | Path | None = None) -> list[Utterance]:
    """The 5 LibriVox sentences (speaker "librivox") and 5 spoken card names (speaker "cards") of
    Debian's pocketsphinx-testdata, 16 kHz mono: an out-of-domain test set of real speech, too
    small to train on. `root` is that package's data folder (/usr/share/pocketsphinx/test/data
    after `apt-get install pocketsphinx-testdata`); without it the .deb is fetched and cached."""
    if root is None:
        paths = fetch(PACKAGE, VERSION, SHA256, [f"{FOLDER}/{m}" for m in MEMBERS], source="debian",
                      alternative=f"install the package (apt-get install {PACKAGE}) and pass root=\"/{FOLDER}\"")
        root = paths[0].parent.parent                          # .../librivox/transcription -> data folder
    root = Path(root)
    return read_transcribed_dir(root / "librivox") + read_transcribed_dir(root / "cards")


def _find_transcripts(root: Path) -> Path:
    if (root / "transcripts.tsv").is_file():
        return root / "transcripts.tsv"
    found = [p for p in [root / "transcription", *sorted(root.glob("*.transcription"))] if p.is_file()]
    if not found:
        raise FileNotFoundError(f"{root} has no transcripts file: add transcripts.tsv (lines "
                                "'relative/path.wav<TAB>text') or a Sphinx-style *.transcription file "
                                "(lines '<s> text </s> (utterance_id)')")
    if len(found) > 1:
        raise ValueError(f"{root} has {len(found)} transcripts files ({', '.join(p.name for p in found)}); "
                         "pass transcripts= to choose one")
    return found[0]


def _read_tsv(root: Path, file: Path, lines: list[tuple[int, str]]) -> list[Utterance]:
    utts = []
    for n, line in lines:
        fields = line.split("\t")
        if len(fields) not in (2, 3):
            raise ValueError(f"{file}:{n}: expected 'relative/path<TAB>text[<TAB>speaker]', got {line!r}")
        audio = root / fields[0]
        if not audio.is_file():
            raise FileNotFoundError(f"{file}:{n}: audio file {audio} does not exist")
        speaker = fields[2].strip() if len(fields) == 3 else audio.parent.name
        utts.append(Utterance(audio, _text(fields[1], file, n), speaker))
    return utts


def _read_sphinx(root: Path, file: Path, lines: list[tuple[int, str]]) -> list[Utterance]:
    audio_files: dict[str, list[Path]] = {}                     # stem -> files, found once for all ids
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file():
            audio_files.setdefault(p.stem, []).append(p)
    utts = []
    for n, line in lines:
        match = _SPHINX_LINE.match(line)
        if match is None:
            raise ValueError(f"{file}:{n}: expected Sphinx style '<s> text </s> (utterance_id)', got {line!r}")
        uid = match["id"]
        direct = [root / f"{uid}{s}" for s in AUDIO_SUFFIXES if (root / f"{uid}{s}").is_file()]
        candidates = direct or audio_files.get(Path(uid).name, [])
        if len(candidates) != 1:
            what = "no audio file" if not candidates else f"{len(candidates)} audio files"
            raise FileNotFoundError(f"{file}:{n}: {what} for utterance {uid!r} under {root} (looked for "
                                    f"{uid}{{{','.join(AUDIO_SUFFIXES)}}})")
        utts.append(Utterance(candidates[0], _text(match["text"], file, n), candidates[0].parent.name))
    return utts


def _text(raw: str, file: Path, n: int) -> str:
    text = normalize_text(raw)
    if not text:
        raise ValueError(f"{file}:{n}: empty transcript; remove the line or its audio")
    return text
