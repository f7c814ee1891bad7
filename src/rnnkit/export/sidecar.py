"""The JSON that travels beside an exported graph: its ports, its state layout, and everything
the task's pre- and post-processing needs (the run's meta.json: vocabulary, labels, scaler,
alphabet; the task's settings), so a caller in any language can use the graph without rnnkit.
docs/deploy.md describes each task's inputs and outputs."""

from __future__ import annotations

from typing import Any

from .. import __version__
from .graphs import Graph
from .writers import OPSET, describe_ports

FORMAT = "rnnkit.export/1"

# What a caller does before and after the graph, per task (docs/deploy.md says it at length).
USAGE = {
    "language_modeling": "tokens: ids of meta.vocab.tokens (meta.vocab.level: char, word or bpe); logits[b, t] "
                         "scores the token after tokens[b, t]; sample from softmax(logits / temperature).",
    "text_classification": "tokens: ids of meta.vocab.tokens after rnnkit.data.labelled.normalize_text and the "
                           "vocabulary's split (unknown words -> '<unk>'); class = argmax(logits), named by "
                           "meta.classes.",
    "sequence_classification": "features: (batch, time, features) raw values (the graph standardises them); "
                               "class = argmax(logits), named by meta.classes.",
}


def sidecar(saved: Any, graph: Graph, kind: str, difference: float) -> dict[str, Any]:
    task = saved.cfg.task.name
    return {
        "format": FORMAT,
        "rnnkit": __version__,
        "kind": kind,
        "opset": OPSET if kind == "onnx" else None,
        "task": task,
        "streaming": graph.streaming,
        "inputs": describe_ports(graph.input_ports()),
        "outputs": describe_ports(graph.output_ports()),
        "state": [{"name": s.name, "size": s.stop - s.start} for s in graph.slots],
        "usage": USAGE.get(task, ""),
        "checked": {"max_abs_difference": difference, "against": "the eager model in float32, batch 3, "
                    "7 steps, with padding"},
        "task_settings": dict(saved.cfg.task.settings),
        "meta": saved.meta,
    }
