"""The JSON that travels beside an exported graph: its ports, its state layout, and everything
the task's pre- and post-processing needs (the run's meta.json: vocabulary, labels, scaler,
alphabet; the task's settings), so a caller in any language can use the graph without rnnkit.
docs/deploy.md describes each task's inputs and outputs."""

from __future__ import annotations

from typing import Any

from .. import __version__
from .base import Graph
from .writers import OPSET, describe_ports

FORMAT = "rnnkit.export/1"

# What a caller does before and after the graph, per task (docs/deploy.md says it at length).
USAGE = {
    "language_modeling": "tokens: ids of meta.vocab.tokens (meta.vocab.level: char, word or bpe); logits[b, t] "
                         "scores the token after tokens[b, t]; sample from softmax(logits / temperature).",
    "text_classification": "tokens: ids of meta.vocab.tokens after rnnkit.data.labelled.normalize_text and the "
                           "vocabulary's split (unknown words -> '<unk>'); class = argmax(logits), named by "
                           "meta.classes. The graph is the network alone: meta.selection records what "
                           "validation chose (NB-weighted n-grams + logistic regression, or a blend of both; "
                           "RUN_DIR/ngrams.safetensors), which `rnnkit classify predict` follows and the graph "
                           "does not.",
    "sequence_classification": "features: (batch, time, features) raw values (the graph standardises them); "
                               "class = argmax(logits), named by meta.classes. The graph is the network alone: "
                               "meta.selection records what the cross-validation folds kept (MiniRocket + ridge, "
                               "RUN_DIR/rocket.safetensors, where it validated clearly better), which `rnnkit "
                               "classify predict` follows and the graph does not.",
    "translation": "source: ids of meta.source_vocab.tokens (unknown -> '<unk>', at most task.max_length); run "
                   "the encoder once, then decoder_step from token = bos = len(meta.target_vocab.tokens) with the "
                   "encoder's keys (and projected), lengths and state_out.* as state_in.*; greedy: token = "
                   "argmax(logits), feed state_out.* back, stop at eos = bos + 1 or after task.max_length + 1 "
                   "steps; the ids below bos are meta.target_vocab's.",
    "forecasting": "window: the last task.input_size steps of the series' features as rnnkit.tasks.forecasting."
                   "windows builds them (value first, scaled by task.scale with meta's scaler, divided by the "
                   "window's level when task.scale = 'window'); multiply the outputs back the same way. The graph "
                   "is the network alone: meta.selection records what validation chose per group (Theta, ETS, "
                   "combinations), which `rnnkit forecast predict` follows and the graph does not.",
    "speech": "features: log-mel (or MFCC) frames as rnnkit.data.audio_features computes them with meta's "
              "front-end settings (the graph standardises them); log_probs over meta's alphabet, class 0 the "
              "blank; greedy decoding: argmax per frame, merge repeats, drop blanks.",
    "tagging": "tokens: (batch, words, 1 + meta.max_chars) int64: each word's id in meta.words (lower-cased when "
               "meta.lowercase, digits as 0 when meta.digits; unknown -> 1) then the ids in meta.alphabet of its "
               "first meta.max_chars characters (unknown -> 1, padding 0); tag = meta.tags[argmax(scores)], or with "
               "a CRF meta.tags[tags] (the Viterbi path, -1 past each sentence). With task_settings.scheme the "
               "tags are in task_settings.train_scheme (BIOES by default).",
    "chaotic_series": "inputs: the series scaled as meta describes; outputs: the next value; feedback: the "
                      "previous output (teacher forcing), or, run closed loop, the graph's own last output fed "
                      "back one step at a time through the streaming graph.",
}


def sidecar(saved: Any, parts: dict[str, Graph], files: dict[str, str], kind: str,
            differences: dict[str, float]) -> dict[str, Any]:
    task = saved.cfg.task.name
    return {
        "format": FORMAT,
        "rnnkit": __version__,
        "kind": kind,
        "opset": OPSET if kind == "onnx" else None,
        "task": task,
        "streaming": any(g.streaming for g in parts.values()),   # a decoder step always takes the state
        "graphs": {name: {"file": files[name], "inputs": describe_ports(g.input_ports()),
                          "outputs": describe_ports(g.output_ports()),
                          "state": [{"name": s.name, "size": s.stop - s.start} for s in g.slots],
                          "max_abs_difference": differences[name]} for name, g in parts.items()},
        "checked": "each graph against the eager model in float32 on a padded batch of 3 rows and 7 steps "
                   "(not the export example's shape)",
        "usage": USAGE.get(task, ""),
        "task_settings": dict(saved.cfg.task.settings),
        "meta": saved.meta,
    }
