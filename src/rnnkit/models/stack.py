"""The recurrent stack a [model] section describes: the one place where model strings become objects."""

from __future__ import annotations

from ..cells import CELLS, INITIALIZERS
from ..config import ModelConfig
from ..io.fields import lookup
from ..layers import Bidirectional, Dilated, Recurrent, RecurrentDropout, Stacked, Zoneout, weight_drop


def build_rnn(cfg: ModelConfig, input_size: int) -> Stacked:
    """The recurrent stack `cfg` describes, over `input_size` features: (B, T, I) -> (B, T, H or 2H)."""
    lookup("model.cell", cfg.cell, CELLS)
    cell_class = CELLS[f"layernorm_{cfg.cell}" if cfg.layer_norm else cfg.cell]
    initialize = lookup("model.init", cfg.init, INITIALIZERS)

    def make_cell(size: int):
        cell = cell_class(size, cfg.hidden_size)
        initialize(cell, forget_bias=cfg.forget_bias)
        if cfg.weight_drop:
            cell = weight_drop(cell, cfg.weight_drop)
        if cfg.zoneout_h or cfg.zoneout_c:
            cell = Zoneout(cell, cfg.zoneout_h, p_c=cfg.zoneout_c)
        if cfg.recurrent_dropout:
            cell = RecurrentDropout(cell, cfg.recurrent_dropout)
        return cell

    layers, size = [], input_size
    for i in range(cfg.num_layers):
        layer = Bidirectional.of(lambda size=size: make_cell(size)) if cfg.bidirectional else Recurrent(make_cell(size))
        if cfg.dilations and cfg.dilations[i] > 1:
            layer = Dilated(layer, int(cfg.dilations[i]))
        layers.append(layer)
        size = layer.output_size
    return Stacked(layers, dropout=cfg.dropout, residual=cfg.residual)
