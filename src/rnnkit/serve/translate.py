"""POST /translate: a translation run's outputs for sentences, by greedy or beam-search decoding.

    {"sentences": ["4 mars 2021"], "beam": 5}  ->  {"translations": ["2021-03-04"]}

Concurrent requests with the same decoding options are micro-batched: their sentences go through
one `predict` call (one batched decode).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from ..runs import SavedRun
from .parse import Fields, request_json
from .service import Endpoint, Service

EXAMPLE = '{"sentences": ["4 mars 2021"], "beam": 5}'
MAX_BEAM = 16
MAX_OUTPUT = 1000           # output tokens per sentence


async def handle(request: Any, service: Service) -> dict[str, Any]:
    f = Fields(await request_json(request, EXAMPLE), known=("sentences", "beam", "alpha", "max_length"),
               example=EXAMPLE)
    sentences = f.texts("sentences", service.limits)
    beam = f.integer("beam", 5, 1, MAX_BEAM)
    alpha = f.number("alpha", 0.6, 0.0, 10.0)
    max_length = f.integer("max_length", 0, 0, MAX_OUTPUT, " (0: the run's task.max_length + 1)")
    options = {"beam": beam, "alpha": alpha, "max_length": max_length}
    found = await service.batched(("translate", beam, alpha, max_length), partial(service.saved.predict, **options),
                                  sentences)
    return {"translations": found}


def facts(saved: SavedRun) -> dict[str, Any]:
    source, target = saved.meta["source_vocab"], saved.meta["target_vocab"]
    return {"source_vocab_size": len(source["tokens"]), "target_vocab_size": len(target["tokens"]),
            "level": source["level"], "max_length": saved.task.max_length, "max_beam": MAX_BEAM}


ENDPOINT = Endpoint(
    path="/translate", summary="Translations of sentences (beam search; beam 1 is greedy)",
    handle=handle, facts=facts,
    openapi={"required": True, "content": {"application/json": {
        "schema": {"type": "object", "properties": {
            "sentences": {"type": "array", "items": {"type": "string"}},
            "beam": {"type": "integer", "default": 5}, "alpha": {"type": "number", "default": 0.6},
            "max_length": {"type": "integer", "default": 0}}},
        "example": json.loads(EXAMPLE)}}})
