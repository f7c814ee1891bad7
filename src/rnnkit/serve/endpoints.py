"""The endpoint each task answers (`ENDPOINTS`, task name -> Endpoint), and what GET /metadata says."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..runs import SavedRun
from .classify import ENDPOINT as CLASSIFY
from .forecast import ENDPOINT as FORECAST
from .generate import ENDPOINT as GENERATE
from .limits import Limits
from .service import Endpoint
from .tag import ENDPOINT as TAG
from .transcribe import ENDPOINT as TRANSCRIBE
from .translate import ENDPOINT as TRANSLATE

ENDPOINTS: dict[str, Endpoint] = {
    "language_modeling": GENERATE,
    "text_classification": CLASSIFY,
    "sequence_classification": CLASSIFY,
    "forecasting": FORECAST,
    "speech": TRANSCRIBE,
    "translation": TRANSLATE,
    "tagging": TAG,
}


def metadata(saved: SavedRun, run_dir: str | Path, limits: Limits) -> dict[str, Any]:
    """The run's task and endpoint, what the task reads and gives (labels, vocabulary size, horizon,
    ...), its model config, and the server's limits. The run is named by its directory's name alone,
    and the task settings (data paths among them) are left out: the server's files are none of a
    client's business."""
    endpoint = ENDPOINTS[saved.cfg.task.name]
    return {"run": Path(run_dir).resolve().name, "task": saved.cfg.task.name, "endpoint": endpoint.path,
            **endpoint.facts(saved), "model": asdict(saved.cfg.model),
            "limits": asdict(limits)}
