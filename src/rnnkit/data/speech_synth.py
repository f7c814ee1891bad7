"""Spoken digit strings and short sentences synthesised with espeak-ng, for training CTC models on
raw audio without a speech corpus.

    train_voices, valid_voices, test_voices = split_voices(ENGLISH_VOICES, valid=2, test=3, seed=0)
    utts = synthesize("data/digits/train", n_utterances=2000, kind="digits", voices=train_voices,
                      seed=0, snr_db=(10, 30))             # [Utterance(path, "three one four", voice), ...]

Each utterance draws (from a generator seeded by `seed` and its index) its text, a voice, a
speed of 130 to 210 words a minute and a pitch of 25 to 75 (espeak's default is 175 and 50).
White noise is added at `snr_db` (a number, or a (low, high) range drawn per utterance). Files
are 16 kHz 16-bit mono wavs under `out_dir/<voice>/`, listed in `out_dir/transcripts.tsv` (path,
text, voice), so `read_transcribed_dir(out_dir)` reads them back. Calling again with the same
arguments reuses the files. Same arguments and espeak-ng version give the same audio.

A voice is an espeak-ng accent plus a variant ("en-gb-scotland+f3"). The variant sets the
speaker's pitch range, formants and breathiness; `split_voices` splits by variant, so test
speakers are unseen in training while every accent appears in every split. This is synthetic
speech: a model that does well here still needs real recordings (e.g. the pocketsphinx test
data) to say anything about real speech.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .audio import read_audio
from .transcribed_audio import Utterance, read_transcribed_dir

SAMPLE_RATE = 16000
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc")   # espeak-ng 1.51's English voices; the mb-* ones need mbrola and are left out
VARIANTS = (*(f"m{i}" for i in range(1, 9)), *(f"f{i}" for i in range(1, 6)), "croak", "klatt", "klatt2",
            "klatt3", "klatt4", "grandma", "grandpa")   # espeak-ng ignores a misspelt variant: keep to these
ENGLISH_VOICES = tuple(f"{a}+{v}" for v in VARIANTS for a in ACCENTS)
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_WORDS = {   # a small grammar: "the small dog finds a green box quickly"; about 10^7 sentences
    "det": ("the", "a", "one", "every", "this", "that", "my", "your", "her", "our"),
    "adj": ("red", "green", "blue", "small", "big", "old", "young", "quiet", "happy", "cold", "bright",
            "heavy", "quick", "strange", "wooden"),
    "noun": ("dog", "cat", "house", "river", "teacher", "farmer", "window", "garden", "king", "judge",
             "box", "jacket", "queen", "village", "zebra", "violin", "expert", "whale", "yard", "puzzle"),
    "verb": ("sees", "finds", "likes", "moves", "paints", "follows", "watches", "carries", "visits",
             "buys", "helps", "jumps over", "waits for", "asks about", "fixes"),
    "adv": ("", "", "quickly", "slowly", "today", "again", "at night", "by the lake", "with joy"),
}


def synthesize(out_dir: str | Path, *, n_utterances: int, kind: str = "digits", voices: Sequence[str],
               seed: int = 0, snr_db: float | tuple[float, float] | None = None) -> list[Utterance]:
    """Writes `n_utterances` wavs and transcripts.tsv to `out_dir`; returns their utterances."""
    if kind not in ("digits", "sentences"):
        raise ValueError(f"kind must be 'digits' or 'sentences', got {kind!r}")
    if n_utterances < 1 or not voices:
        raise ValueError(f"need n_utterances >= 1 and at least one voice, got {n_utterances} and {list(voices)}")
    unknown = [v for v in voices if v not in ENGLISH_VOICES]
    if unknown:
        raise ValueError(f"unknown voices {unknown}: use names from speech_synth.ENGLISH_VOICES, such as "
                         f"{ENGLISH_VOICES[0]!r} (accent+variant)")
    low, high = (snr_db, snr_db) if snr_db is None or np.isscalar(snr_db) else snr_db
    espeak = _espeak()
    out = Path(out_dir)
    settings = {"n_utterances": n_utterances, "kind": kind, "voices": list(voices), "seed": seed,
                "snr_db": [low, high], "espeak": _espeak_version(espeak), "format": 1}
    manifest = out / "synth.json"
    if manifest.is_file() and json.loads(manifest.read_text()) == settings:
        return read_transcribed_dir(out)                                     # made before with these settings
    manifest.unlink(missing_ok=True)             # an interrupted rewrite must not pass for the old set
    rows = []
    for i in range(n_utterances):
        rng = np.random.default_rng([seed, i])         # utterance i is the same whatever n_utterances is
        text = _digits(rng) if kind == "digits" else _sentence(rng)
        voice = voices[int(rng.integers(len(voices)))]
        speed, pitch = int(rng.integers(130, 211)), int(rng.integers(25, 76))
        wave = _speak(espeak, text, voice, speed, pitch)
        if low is not None:
            wave = add_noise(wave, float(rng.uniform(low, high)), rng)
        rel = f"{voice}/{i:06d}.wav"
        (out / voice).mkdir(parents=True, exist_ok=True)
        _write_wav(out / rel, wave)
        rows.append(f"{rel}\t{text}\t{voice}\n")
    (out / "transcripts.tsv").write_text("".join(rows), encoding="utf-8")
    manifest.write_text(json.dumps(settings))                                # last: marks the set complete
    return read_transcribed_dir(out)


def split_voices(voices: Sequence[str] = ENGLISH_VOICES, *, valid: int = 2, test: int = 3,
                 seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """(train, valid, test) voices with disjoint variants: `valid` and `test` variants (drawn with
    `seed`) and all their accents go to those splits, the rest to training."""
    variants = sorted({v.split("+", 1)[1] for v in voices})
    if valid < 0 or test < 0 or valid + test >= len(variants):
        raise ValueError(f"{len(variants)} variants cannot give {valid} valid and {test} test variants and "
                         "leave some for training")
    order = [variants[j] for j in np.random.default_rng(seed).permutation(len(variants))]
    held = {v: "valid" for v in order[:valid]} | {v: "test" for v in order[valid:valid + test]}
    split = {"train": [], "valid": [], "test": []}
    for v in voices:
        split[held.get(v.split("+", 1)[1], "train")].append(v)
    return split["train"], split["valid"], split["test"]


def add_noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """wave plus white Gaussian noise whose power is the wave's mean power / 10^(snr_db / 10)."""
    power = float(np.mean(wave.astype(np.float64) ** 2))
    noise = rng.standard_normal(wave.shape) * np.sqrt(power / 10 ** (snr_db / 10))
    return (wave + noise).astype(np.float32)


def _digits(rng: np.random.Generator) -> str:
    return " ".join(DIGITS[d] for d in rng.integers(0, 10, size=int(rng.integers(1, 8))))


def _sentence(rng: np.random.Generator) -> str:
    pick = lambda part: _WORDS[part][int(rng.integers(len(_WORDS[part])))]
    words = [pick("det"), pick("adj"), pick("noun"), pick("verb"), pick("det"), pick("noun"), pick("adv")]
    for j, word in enumerate(words[:-1]):
        if word == "a" and words[j + 1][0] in "aeiou":
            words[j] = "an"                                              # "an old dog", "an expert"
    return " ".join(w for w in words if w)


def _speak(espeak: str, text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        cmd = [espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or not wav.is_file():
            raise RuntimeError(f"espeak-ng failed for voice {voice!r}: {done.stderr.strip()[-300:]}")
        return read_audio(wav, SAMPLE_RATE)                      # espeak-ng writes 22050 Hz


def _write_wav(path: Path, wave: np.ndarray) -> None:
    import soundfile

    part = path.with_name(path.name + ".part")
    soundfile.write(part, np.clip(wave, -1, 1), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    part.replace(path)


def _espeak() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        raise RuntimeError("espeak-ng is not installed (or not on PATH); install it with "
                           "apt-get install espeak-ng")
    return found


def _espeak_version(espeak: str) -> str:
    return subprocess.run([espeak, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
