"""`rnnkit export`: a saved run's model to an ONNX or TorchScript file, checked against the
eager model, with the pre- and post-processing a caller needs beside it as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..io.files import atomic_write_all
from ..runs import load
from .graphs import graph_of
from .sidecar import sidecar
from .writers import example, to_onnx, to_torchscript, verify

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


def export_run(run_dir: str | Path, *, format: str = "onnx", streaming: bool = False,
               out: str | Path | None = None) -> tuple[Path, Path, float]:
    """Writes the run's model to `out` (default RUN_DIR/export/model[.streaming].onnx|.pt) and its
    description to the same path with .json, both or neither; returns (model file, JSON file, the
    largest difference from the eager model on a padded check batch)."""
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {list(FORMATS)}, got {format!r}")
    saved = load(run_dir)
    graph = graph_of(saved.model.float(), streaming=streaming, dtype=torch.float32)
    default = Path(run_dir) / "export" / f"model{'.streaming' if streaming else ''}{FORMATS[format]}"
    path = Path(out) if out else default
    path.parent.mkdir(parents=True, exist_ok=True)
    worst = [0.0]

    def write_model(tmp: Path) -> None:
        (to_onnx if format == "onnx" else to_torchscript)(graph, tmp, example(graph))
        # another batch size and length than the example's, with padding: the axes really are dynamic
        worst[0] = verify(graph, tmp, format, example(graph, batch=3, steps=7, seed=1))

    def write_info(tmp: Path) -> None:
        tmp.write_text(json.dumps(sidecar(saved, graph, format, worst[0]), indent=1, ensure_ascii=False),
                       encoding="utf-8")

    info = path.with_suffix(".json")
    atomic_write_all([(path, write_model), (info, write_info)])
    return path, info, worst[0]
