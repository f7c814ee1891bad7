"""POST /tag: a tagging run's tag for each word, with every tag's probability (CRF marginals or
the softmax).

    {"sentences": ["John lives in New York", ["Mary", "smiled"]]}
        -> {"sentences": [{"words": [...], "tags": ["B-PER", "O", ...], "probability": [...],
                           "probabilities": [{"O": 0.01, ...}, ...]}, ...]}

A sentence is a string (split at whitespace) or a list of tokens. Concurrent requests are
micro-batched: their sentences go through one `predict` call.
"""

from __future__ import annotations

import json
from typing import Any

from ..runs import SavedRun
from .errors import RequestError
from .limits import Limits
from .parse import Fields, check_length, kind, request_json
from .service import Endpoint, Service

EXAMPLE = '{"sentences": ["John lives in New York", ["Mary", "smiled"]]}'


async def handle(request: Any, service: Service) -> dict[str, Any]:
    body = Fields(await request_json(request, EXAMPLE), known=("sentences",), example=EXAMPLE)
    sentences = tokens(body, service.limits)
    found = await service.batched(("tag",), service.saved.predict, sentences)
    return {"sentences": [s.to_dict() for s in found]}


def tokens(body: Fields, limits: Limits) -> list[list[str]]:
    """Each sentence as its tokens: a string split at whitespace, or a list of non-blank strings."""
    out = []
    for i, value in enumerate(body.items("sentences", limits)):
        name = f"sentences[{i}]"
        if isinstance(value, str):
            check_length(name, value, limits)
            words = value.split()
        elif isinstance(value, list) and all(isinstance(w, str) for w in value):
            check_length(name, " ".join(value), limits)
            words = value
            if any(not w or any(c.isspace() for c in w) for w in words):
                raise RequestError(422, f"{name} has an empty token or one with whitespace inside",
                                   "send each token as a non-empty string without spaces, or the sentence as one "
                                   "string")
        else:
            raise RequestError(422, f"{name} must be a string or a list of strings, got {kind(value)}",
                               f"send e.g. {EXAMPLE}")
        if not words:
            raise RequestError(422, f"{name} has no words", "leave out empty sentences")
        out.append(words)
    return out


def facts(saved: SavedRun) -> dict[str, Any]:
    task = saved.task
    return {"tags": list(saved.meta["tags"]), "scheme": task.scheme or None, "crf": bool(task.crf),
            "vocab_size": len(saved.meta["words"])}


ENDPOINT = Endpoint(
    path="/tag", summary="A tag for each word (part of speech, named entities) with every tag's probability",
    handle=handle, facts=facts,
    openapi={"required": True, "content": {"application/json": {
        "schema": {"type": "object", "properties": {
            "sentences": {"type": "array", "items": {"oneOf": [
                {"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}}},
        "example": json.loads(EXAMPLE)}}})
