"""A speech run's predictor: audio files (or .npy features) in, transcripts out.

    saved = rnnkit.load("runs/speech_espeak_digits")
    saved.predict(["a.wav", "b.flac"])                         # ["three one four", "nine"]
    saved.predict(["a.wav"], beam=8, timestamps=True)          # [("three one four", [("three", 0.12, 0.4), ...])]

Files are read with the run's own front end (stream.py: its feature settings from meta.json) and
decoded with its alphabet, and for beam search its lexicon and word lm (decoder.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ..base import Meta
from .decoder import build_decoder
from .stream import chunked_features, seconds_per_frame, utterance_features

if TYPE_CHECKING:
    from .task import SpeechRecognition

Words = list[tuple[str, float, float]]          # (word, start, end)


@dataclass(frozen=True)
class Transcript:
    text: str
    words: Words                                 # start and end in seconds (output frames on precomputed features)
    pairs: list[tuple[int, int]]                 # (character id, output frame) of each character
    log_probs: Tensor                            # (T', C)


class SpeechPredictor:
    """Transcribes files with a speech run's model (eval mode), front end and decoder."""

    def __init__(self, task: SpeechRecognition, model: nn.Module, meta: Meta) -> None:
        self.model, self.meta = model, meta
        self.decoder = build_decoder(meta, task)
        self.stride = model.front.stride
        self.seconds = seconds_per_frame(meta, self.stride)          # None on precomputed features

    def predict(self, inputs: Sequence[str | Path], *, beam: int = 0, timestamps: bool = False) -> list[Any]:
        """inputs: audio file paths (any format libsndfile reads; .raw is 16 kHz 16-bit mono; .npy
        is (T, F) features) -> one transcript each, greedy or with prefix beam search of width
        `beam`; with `timestamps`, (transcript, [(word, start, end), ...]) pairs instead."""
        if isinstance(inputs, (str, Path)):
            raise TypeError("predict takes a list of file paths; wrap a single one in a list")
        found = [self.transcribe(path, beam=beam) for path in inputs]
        return [(t.text, t.words) if timestamps else t.text for t in found]

    def transcribe(self, path: str | Path, *, beam: int = 0, chunk_frames: int = 0,
                   on_chunk: Callable[[Tensor], None] | None = None) -> Transcript:
        """One file, whole or in chunks of `chunk_frames` feature frames (see `log_probs`)."""
        if beam < 0:
            raise ValueError(f"beam must be >= 0, got {beam}")
        log_probs = self.log_probs(path, chunk_frames=chunk_frames, on_chunk=on_chunk)
        pairs = self.decoder.pairs(log_probs, beam)
        words = word_times(pairs, self.decoder.alphabet.characters, self.seconds or 1.0)
        return Transcript(self.decoder.to_text(pairs), words, pairs, log_probs)

    def log_probs(self, path: str | Path, *, chunk_frames: int = 0,
                  on_chunk: Callable[[Tensor], None] | None = None) -> Tensor:
        """(T', C) log-probabilities of a file: whole, or chunk by chunk with the state carried along
        (then `on_chunk` sees the log-probabilities so far after each chunk)."""
        path = Path(path)
        with torch.no_grad():
            if not chunk_frames:
                return self.model(utterance_features(path, self.meta)[None])[0][0]
            out, state = [], None
            for chunk in chunked_features(path, self.meta, chunk_frames):
                log_probs, state = self.model(chunk[None], state)
                out.append(log_probs[0])
                if on_chunk is not None:
                    on_chunk(torch.cat(out))
            return torch.cat(out)


def word_times(pairs: list[tuple[int, int]], characters: str, seconds: float) -> Words:
    """(word, start, end) from (character id, frame) pairs: a word starts at its first character's
    frame and ends one frame after its last character's; spaces separate words."""
    words: Words = []
    current: list[tuple[str, int]] = []
    for c, t in [*pairs, (0, -1)]:                      # the blank id 0 never occurs in pairs: it ends the last word
        if c and characters[c - 1] != " ":
            current.append((characters[c - 1], t))
        elif current:
            words.append(("".join(ch for ch, _ in current), current[0][1] * seconds, (current[-1][1] + 1) * seconds))
            current = []
    return words
