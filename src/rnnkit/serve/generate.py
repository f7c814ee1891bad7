"""POST /generate: a language_modeling run continues a prompt, in one reply or streamed as it samples.

    {"prompt": "ROMEO:", "tokens": 50, "temperature": 0.8, "seed": 1}
    -> {"prompt": "ROMEO:", "text": "...", "unknown_tokens": []}
    {"prompt": "ROMEO:", "tokens": 50, "seed": 1, "stream": true}
    -> NDJSON lines {"text": PIECE} as each token is sampled, then {"done": true, "text": ALL, ...}

A streamed and a whole reply with the same seed hold the same text: both are one call of the
run's predictor, the stream reading its `on_text` pieces. Generation is not batched (each prompt
carries its own state through a token-by-token loop); requests take turns on the model's thread.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..runs import SavedRun
from .errors import from_exception
from .limits import Limits
from .parse import Fields, request_json
from .service import Endpoint, Service, Stream

EXAMPLE = '{"prompt": "ROMEO:", "tokens": 50, "temperature": 0.8, "seed": 1}'
KNOWN = ("prompt", "tokens", "temperature", "top_k", "top_p", "greedy", "seed", "beams", "stream")
MAX_BEAMS = 16              # each beam is one more sequence through the network per token


@dataclass(frozen=True)
class Generation:
    prompt: str
    tokens: int
    temperature: float
    top_k: int
    top_p: float
    greedy: bool
    seed: int | None
    beams: int
    stream: bool


def parse(body: Any, limits: Limits, vocab_size: int) -> Generation:
    f = Fields(body, known=KNOWN, example=EXAMPLE)
    return Generation(
        prompt=f.text("prompt", "", limits),
        tokens=f.integer("tokens", 100, 1, limits.max_tokens, " (this server's limit)"),
        temperature=f.number("temperature", 1.0, 0.0, 100.0, open_low=True),
        top_k=f.integer("top_k", 0, 0, vocab_size, " (the vocabulary's size)"),
        top_p=f.number("top_p", 1.0, 0.0, 1.0, open_low=True),
        greedy=f.boolean("greedy", False),
        seed=f.optional_integer("seed", 0, 2**63 - 1),
        beams=f.integer("beams", 1, 1, MAX_BEAMS),
        stream=f.boolean("stream", False))


def generate(saved: SavedRun, g: Generation, on_text: Callable[[str], None] | None = None) -> str:
    return saved.predict(g.prompt, tokens=g.tokens, temperature=g.temperature, top_k=g.top_k, top_p=g.top_p,
                         greedy=g.greedy, seed=g.seed, beams=g.beams, on_text=on_text)


async def handle(request: Any, service: Service) -> dict[str, Any] | Stream:
    vocab = service.saved.predictor.vocab
    g = parse(await request_json(request, EXAMPLE), service.limits, len(vocab))
    unknown = vocab.unknown(g.prompt)
    if g.stream:
        return Stream(stream(service, g, {"prompt": g.prompt, "unknown_tokens": unknown}))
    text = await service.call(generate, service.saved, g)
    return {"prompt": g.prompt, "text": text, "unknown_tokens": unknown}


class ClientGone(Exception):
    """Raised inside generation when the streamed reply was closed: stop sampling for no one."""


END = object()


def stream(service: Service, g: Generation, extra: dict[str, Any]) -> Iterator[bytes]:
    """The generation's pieces as NDJSON lines while the model's thread samples them."""
    pieces: queue.SimpleQueue[Any] = queue.SimpleQueue()
    gone = threading.Event()

    def on_text(piece: str) -> None:
        if gone.is_set():
            raise ClientGone
        pieces.put(piece)

    future = service.batcher.call(generate, service.saved, g, on_text)
    future.add_done_callback(lambda _: pieces.put(END))
    return lines(pieces, future, gone, extra)


def lines(pieces: queue.SimpleQueue, future: Future, gone: threading.Event, extra: dict[str, Any]) -> Iterator[bytes]:
    try:
        while (piece := pieces.get()) is not END:
            yield ndjson({"text": piece})
        error = future.exception()
        yield ndjson({"done": True, "text": future.result(), **extra} if error is None
                     else {"done": True, **from_exception(error).body()})       # the status line went out already
    finally:
        gone.set()                         # closed early (the client left) or finished


def ndjson(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def facts(saved: SavedRun) -> dict[str, Any]:
    vocab = saved.predictor.vocab
    return {"vocab_size": len(vocab), "level": vocab.level, "max_beams": MAX_BEAMS}


ENDPOINT = Endpoint(
    path="/generate", summary="Continue a prompt (\"stream\": true for NDJSON pieces as they are sampled)",
    handle=handle, facts=facts,
    openapi={"required": True, "content": {"application/json": {
        "schema": {"type": "object", "properties": {
            "prompt": {"type": "string", "default": ""}, "tokens": {"type": "integer", "default": 100},
            "temperature": {"type": "number", "default": 1.0}, "top_k": {"type": "integer", "default": 0},
            "top_p": {"type": "number", "default": 1.0}, "greedy": {"type": "boolean", "default": False},
            "seed": {"type": "integer", "nullable": True}, "beams": {"type": "integer", "default": 1},
            "stream": {"type": "boolean", "default": False}}},
        "example": json.loads(EXAMPLE)}}})
