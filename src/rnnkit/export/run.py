"""`rnnkit export`: a saved run's model to ONNX or TorchScript files, each checked against the
eager model, with the pre- and post-processing a caller needs beside them as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..io.files import atomic_write_all
from ..runs import load
from .graphs import graphs_of
from .sidecar import sidecar
from .writers import example, to_onnx, to_torchscript, verify

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}


def export_run(run_dir: str | Path, *, format: str = "onnx", streaming: bool = False,
               out: str | Path | None = None) -> tuple[list[Path], Path, float]:
    """Writes the run's model to `out` (default RUN_DIR/export/model[.streaming].onnx|.pt; a model of
    several graphs, e.g. a translator's encoder and decoder step, gets one file each, named
    `out`'s stem + "." + part) and its description to `out` with .json, all or none. Returns (the
    graph files, the JSON file, the largest difference from the eager model on a padded batch)."""
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {list(FORMATS)}, got {format!r}")
    saved = load(run_dir)
    parts = graphs_of(saved.model.float(), streaming=streaming, dtype=torch.float32,
                      level=getattr(saved.task, "level", None))
    default = Path(run_dir) / "export" / f"model{'.streaming' if streaming else ''}{FORMATS[format]}"
    path = Path(out) if out else default
    path.parent.mkdir(parents=True, exist_ok=True)
    files = {name: path if name == "model" else path.with_name(f"{path.stem}.{name}{path.suffix}") for name in parts}
    worst: dict[str, float] = {}

    def writer(name: str):
        def write(tmp: Path) -> None:
            graph = parts[name]
            (to_onnx if format == "onnx" else to_torchscript)(graph, tmp, example(graph))
            # another batch size and length than the example's, with padding: the axes really are dynamic
            worst[name] = verify(graph, tmp, format, example(graph, batch=3, steps=7, seed=1))
        return write

    def write_info(tmp: Path) -> None:
        info = sidecar(saved, parts, {n: f.name for n, f in files.items()}, format, worst)
        tmp.write_text(json.dumps(info, indent=1, ensure_ascii=False), encoding="utf-8")

    info = path.with_suffix(".json")
    atomic_write_all([*((files[name], writer(name)) for name in parts), (info, write_info)])
    return list(files.values()), info, max(worst.values())
