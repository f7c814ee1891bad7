"""POST /classify: labels with every class's probability, for a text_classification run's texts or a
sequence_classification run's feature sequences; with attention pooling, each token's (step's) weight.

    {"texts": ["the food was great"]}            -> {"predictions": [{"label": "1", "probabilities":
                                                      {"0": 0.08, "1": 0.92}, "tokens": [...], "attention": [...]}]}
    {"sequences": [[[0.1, 0.2], [0.3, 0.1]]]}    -> the same, a (time, features) list of rows per sequence

Concurrent requests are micro-batched: their inputs go through one `predict` call (one padded
forward pass), and each request gets its own predictions back.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from ..models.classifier import SequenceClassifier
from ..runs import SavedRun
from ..tasks.classification import Prediction, SequenceClassification, SequencePredictor
from .errors import RequestError
from .limits import Limits
from .parse import Fields, request_json
from .service import Endpoint, Service

TEXT_EXAMPLE = '{"texts": ["the food was great", "terrible service"]}'
SEQUENCE_EXAMPLE = '{"sequences": [[[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]]}'


async def handle(request: Any, service: Service) -> dict[str, Any]:
    saved = service.saved
    if isinstance(saved.predictor, SequencePredictor):
        body = Fields(await request_json(request, SEQUENCE_EXAMPLE), known=("sequences",), example=SEQUENCE_EXAMPLE)
        inputs: list[Any] = sequences(body, service.limits, saved.meta["num_features"])
    else:
        body = Fields(await request_json(request, TEXT_EXAMPLE), known=("texts",), example=TEXT_EXAMPLE)
        inputs = body.texts("texts", service.limits)
    found = await service.batched(("classify",), saved.predict, inputs)
    return {"predictions": [as_json(p) for p in found]}


def sequences(body: Fields, limits: Limits, width: int) -> list[np.ndarray]:
    """Each entry a (T, width) array of finite numbers, 1 <= T <= limits.max_series_length."""
    out = []
    for i, rows in enumerate(body.items("sequences", limits)):
        fix = f"send each sequence as a list of time steps, each a list of {width} numbers, e.g. {SEQUENCE_EXAMPLE}"
        try:
            array = np.asarray(rows, dtype=np.float64)
        except (ValueError, TypeError):
            raise RequestError(422, f"sequences[{i}] is not a table of numbers (rows of different lengths, or "
                               "text among the numbers)", fix) from None
        if array.ndim != 2 or array.shape[1] != width or not len(array):
            raise RequestError(422, f"sequences[{i}] has shape {list(array.shape)}; this run reads sequences of "
                               f"shape [steps, {width}]", fix)
        if len(array) > limits.max_series_length:
            raise RequestError(422, f"sequences[{i}] has {len(array):,} steps; this server takes at most "
                               f"{limits.max_series_length:,}", "send a shorter sequence")
        if not np.isfinite(array).all():
            step = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
            raise RequestError(422, f"sequences[{i}] has a missing or infinite value at step {step}",
                               "fill or drop the missing steps before classifying")
        out.append(array.astype(np.float32))
    return out


def as_json(p: Prediction) -> dict[str, Any]:
    return {k: v for k, v in asdict(p).items() if v is not None}


def facts(saved: SavedRun) -> dict[str, Any]:
    task = saved.task
    reads = "sequences" if isinstance(task, SequenceClassification) else "texts"
    attention = task.pooling == "attention" and isinstance(saved.model, SequenceClassifier)
    out = {"classes": list(saved.meta["classes"]), "reads": reads, "pooling": task.pooling, "attention": attention}
    if reads == "texts":
        out |= {"vocab_size": len(saved.meta["vocab"]["tokens"]), "max_length": task.max_length}
    else:
        out |= {"num_features": saved.meta["num_features"]}
    return out


ENDPOINT = Endpoint(
    path="/classify", summary="Labels and class probabilities (and attention weights) of texts or sequences",
    handle=handle, facts=facts,
    openapi={"required": True, "content": {"application/json": {
        "schema": {"type": "object", "description": "a text run reads `texts`, a sequence run `sequences`",
                   "properties": {
                       "texts": {"type": "array", "items": {"type": "string"}},
                       "sequences": {"type": "array", "items": {"type": "array", "items": {
                           "type": "array", "items": {"type": "number"}}}}}},
        "examples": {"texts": {"value": {"texts": ["the food was great", "terrible service"]}},
                     "sequences": {"value": {"sequences": [[[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]]}}}}}})
