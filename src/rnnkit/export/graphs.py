"""Which graph exports which model: `graphs_of(model)` gives a model's named parts (one "model"
for most; a translator's "encoder" and "decoder_step"), each an exportable `Graph`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..models.classifier import SequenceClassifier
from ..models.ctc import CTCModel
from ..models.ensemble import ProbabilityEnsemble
from ..models.esn import EchoStateClassifier, EchoStateNetwork
from ..models.esrnn import ESRNN
from ..models.forecast_decoders import AutoregressiveForecaster, Seq2SeqForecaster
from ..models.forecaster import Forecaster
from ..models.language_model import LanguageModel
from ..models.seq2seq import Seq2Seq
from ..models.tagger import SequenceTagger
from .base import Graph, Port
from .ensemble import EnsembleGraph
from .errors import ExportError
from .esn import EchoStateClassifierGraph, EchoStateGraph
from .esrnn import ESRNNGraph
from .forecast import ForecasterGraph
from .seq2seq import seq2seq_graphs
from .speech import CTCGraph
from .tagger import TaggerGraph
from .text import ClassifierGraph, LanguageModelGraph

BUILDERS: list[tuple[type, Any]] = [
    (LanguageModel, LanguageModelGraph), (SequenceClassifier, ClassifierGraph), (CTCModel, CTCGraph),
    (EchoStateNetwork, EchoStateGraph), (EchoStateClassifier, EchoStateClassifierGraph),
    ((Forecaster, Seq2SeqForecaster, AutoregressiveForecaster), ForecasterGraph),
    (Seq2Seq, seq2seq_graphs), (ESRNN, ESRNNGraph), (SequenceTagger, TaggerGraph),
    (ProbabilityEnsemble, EnsembleGraph),
]
# the task settings a graph builds in: a forecaster's interval level
OPTIONS = {ForecasterGraph: ("level",), ESRNNGraph: ("level",)}


def graphs_of(model: nn.Module, *, streaming: bool = False, dtype: torch.dtype = torch.float32,
              **options: Any) -> dict[str, Graph]:
    """The exportable graphs of a task's model (put in eval mode), by the model's kind. `options`
    are task settings some graphs build in (`level`: a forecaster's interval); others ignore them."""
    model = model.eval()
    for kind, build in BUILDERS:
        if isinstance(model, kind):
            wanted = {k: v for k, v in options.items() if k in OPTIONS.get(build, ()) and v is not None}
            made = build(model, streaming=streaming, dtype=dtype, **wanted)
            return {name: g.eval() for name, g in (made.items() if isinstance(made, dict) else [("model", made)])}
    raise ExportError(f"a {type(model).__name__} has no export yet")


def graph_of(model: nn.Module, *, streaming: bool = False, dtype: torch.dtype = torch.float32,
             **options: Any) -> Graph:
    """The one graph of a model that exports as one graph."""
    parts = graphs_of(model, streaming=streaming, dtype=dtype, **options)
    if list(parts) != ["model"]:
        raise ExportError(f"a {type(model).__name__} exports as {len(parts)} graphs ({', '.join(parts)}): "
                          "use graphs_of")
    return parts["model"]


__all__ = ["BUILDERS", "Graph", "Port", "graph_of", "graphs_of"]
