"""Deployable graphs of trained models: ONNX and TorchScript, whole-sequence or streaming (the
recurrent state as explicit inputs and outputs), checked against the eager model."""

from __future__ import annotations

from .base import Graph as Graph
from .errors import ExportError as ExportError
from .graphs import graph_of as graph_of
from .graphs import graphs_of as graphs_of
from .run import FORMATS as FORMATS
from .run import export_run as export_run
from .writers import run_file as run_file

__all__ = ["FORMATS", "ExportError", "Graph", "export_run", "graph_of", "graphs_of", "run_file"]
