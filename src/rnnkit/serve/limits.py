"""What one request may ask of a server, and how requests are batched: `rnnkit serve --max-texts=...`
sets these, and /metadata reports them so a client can stay inside them.

    api = rnnkit.serve.app("runs/imdb_lstm", limits=Limits(max_texts=16, batch_wait_ms=2))
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 16 * 2**20     # a request body larger than this is refused (413); 16 MiB holds 8 minutes
                                         # of 16 kHz 16-bit mono WAV
    max_texts: int = 64                  # texts, sentences, sequences or series in one request
    max_text_chars: int = 5000           # characters in one text, sentence or prompt
    max_tokens: int = 1000               # tokens one /generate request may ask for
    max_audio_seconds: float = 300.0     # the longest audio /transcribe reads (checked from the file's header)
    max_series_length: int = 10000       # points in one series (/forecast) or steps in one sequence (/classify)
    batch_wait_ms: float = 5.0           # how long the first request of a batch waits for others to join it
    max_batch: int = 64                  # the most inputs (texts, sentences) of several requests run through the model
                                         # at once (a larger single request runs alone)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value < 0 or (value == 0 and f.name != "batch_wait_ms"):
                raise ValueError(f"limit {f.name} must be {'>= 0' if f.name == 'batch_wait_ms' else '> 0'}, "
                                 f"got {value}")


DEFAULT_LIMITS = Limits()
