"""POST /transcribe: a speech run's transcript of an uploaded audio file, with each word's start and end.

    curl -F file=@utterance.wav -F beam=8 http://127.0.0.1:8000/transcribe
    -> {"text": "three one four", "words": [{"word": "three", "start": 0.12, "end": 0.4}, ...], "seconds": 1.9}

The file's header is read first, so a file that is not audio, or longer than the server's
`max_audio_seconds`, is refused before any of it is decoded.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from ..runs import SavedRun
from .errors import RequestError
from .limits import Limits
from .parse import Fields
from .service import Endpoint, Service
from .uploads import one_file, read_form

EXAMPLE = "curl -F file=@utterance.wav -F beam=8 http://127.0.0.1:8000/transcribe"
MAX_BEAM = 64
RAW_BYTES_PER_SECOND = 16000 * 2        # a headerless .raw file is 16 kHz 16-bit mono (the Sphinx convention)


async def handle(request: Any, service: Service) -> dict[str, Any]:
    fields, files = await read_form(request, EXAMPLE)
    f = Fields(fields, known=("beam",), example=EXAMPLE)
    beam = f.integer("beam", 0, 0, MAX_BEAM, " (0: greedy)")
    upload = one_file(files, "file", EXAMPLE)
    name = upload.filename or "the upload"
    with tempfile.TemporaryDirectory(prefix="rnnkit-serve-") as folder:
        path = Path(folder) / ("upload" + Path(upload.filename).suffix.lower()[:8])   # the reader goes by the suffix
        path.write_bytes(upload.data)
        seconds = check_file(path, name, service.saved.meta, service.limits)
        try:
            [(text, words)] = await service.call(partial(service.saved.predict, beam=beam, timestamps=True), [path])
        except (ValueError, TypeError) as error:      # the audio reader names the file by its temporary path
            raise RequestError(422, f"the model cannot use this input: {str(error).replace(str(path), repr(name))}",
                               "upload WAV, FLAC or OGG audio of at least 8 kHz") from None
    return {"text": text, "words": [{"word": w, "start": start, "end": end} for w, start, end in words],
            "seconds": seconds}


def check_file(path: Path, name: str, meta: dict[str, Any], limits: Limits) -> float | None:
    """The audio's length in seconds (None for .npy features) from its header; refuses what the run
    cannot read and audio over the server's limit."""
    if meta.get("features") is None:
        if path.suffix != ".npy":
            raise RequestError(422, f"this run was trained on precomputed features, so it reads (T, "
                               f"{meta['num_features']}) .npy arrays, not {name!r}", "upload a .npy file")
        return None
    if path.suffix == ".npy":
        raise RequestError(422, f"this run reads audio, not .npy features ({name!r})", "upload a WAV or FLAC file")
    seconds = duration(path, name)
    if seconds > limits.max_audio_seconds:
        limit = limits.max_audio_seconds
        raise RequestError(422, f"{name!r} is {clock(seconds)} long; this server transcribes at most {limit:g} s per "
                           "request", f"cut it into pieces of at most {limit:g} s, e.g. `sox {Path(name).name} "
                           f"part.wav trim 0 {limit:g} : newfile : restart`, and send each")
    return seconds


def duration(path: Path, name: str) -> float:
    if path.suffix == ".raw":
        return path.stat().st_size / RAW_BYTES_PER_SECOND
    import soundfile

    try:
        return float(soundfile.info(str(path)).duration)
    except Exception as error:                            # libsndfile: not a format it knows
        reason = (str(error).splitlines() or [type(error).__name__])[0].replace(str(path), name)   # no server paths
        raise RequestError(415, f"{name!r} is not audio this server can read ({reason})",
                           "upload WAV, FLAC or OGG; convert other formats first, e.g. `ffmpeg -i in.mp3 out.wav`") \
            from None


def clock(seconds: float) -> str:
    """1:02:03 (or 4.5 s under a minute)."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    minutes = f"{whole // 60 % 60:02d}:{whole % 60:02d}"
    return f"{whole // 3600}:{minutes}" if whole >= 3600 else f"{whole // 60}:{whole % 60:02d}"


def facts(saved: SavedRun) -> dict[str, Any]:
    features = saved.meta.get("features")
    return {"characters": saved.meta["characters"], "reads": "audio" if features else "npy features",
            "sample_rate": features["sample_rate"] if features else None, "max_beam": MAX_BEAM}


ENDPOINT = Endpoint(
    path="/transcribe", summary="Transcript of an uploaded audio file, with word times",
    handle=handle, facts=facts,
    openapi={"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "WAV, FLAC or OGG"},
            "beam": {"type": "integer", "default": 0, "description": "prefix beam search width (0: greedy)"}}}}}})
