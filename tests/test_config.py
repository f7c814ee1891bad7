"""Config: typed overrides, clear errors for bad input, round trip through TOML, build_rnn."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cells import CELLS
from rnnkit.config import ModelConfig, RunConfig, parse_override, to_dict
from rnnkit.io import toml
from rnnkit.io.fields import ConfigError
from rnnkit.layers import Bidirectional, Stacked
from rnnkit.models.stack import build_rnn
from rnnkit.runs.configs import load_config


def test_defaults_and_typed_overrides():
    cfg = load_config(None, ["--train.iterations=7", "--optim.lr=1", "--optim.name=momentum",
                             "--optim.nesterov=true", "--optim.betas=[0.8, 0.9]", "seed=3", "--task.length=9"])
    assert cfg.train.iterations == 7 and cfg.seed == 3 and cfg.task.settings["length"] == 9
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)          # an int where a float goes
    assert cfg.optim.name == "momentum" and cfg.optim.nesterov is True and cfg.optim.betas == (0.8, 0.9)
    assert parse_override("--train.device=cuda:1") == ("train.device", "cuda:1")


@pytest.mark.parametrize("override, words", [
    ("--train.iteratoins=5", ["unknown key train.iteratoins", "did you mean train.iterations"]),
    ("--optim.lr=-1", ["optim.lr must be > 0", "-1"]),
    ("--train.iterations=abc", ["train.iterations expects an integer", "'abc'"]),
    ("--train.iterations=2.5", ["train.iterations expects an integer", "2.5"]),
    ("--model.dropout=true", ["model.dropout expects a number", "True"]),
    ("--optim.name=adamm", ["optim.name = 'adamm' is not known", "did you mean 'adam'"]),
    ("--model.cell=lstn", ["did you mean 'lstm'"]),
    ("--task.lenght=5", ["unknown key task.lenght", "did you mean task.length"]),
    ("--task.name=addng", ["task.name = 'addng'", "did you mean 'adding'"]),
    ("--task.length=1", ["task.length must be >= 2"]),
    ("--trian.bptt=5", ["unknown section [trian]", "did you mean [train]"]),
    ("--sede=5", ["unknown key sede", "did you mean seed"]),
    ("--model.dropout=1.5", ["model.dropout must be in [0, 1)"]),
    ("--train.random_bptt=true", ["random_bptt needs train.bptt > 0"]),
    ("--model.layer_norm=true", []),
    ("train.bptt", ["must look like --section.key=value"]),
])
def test_bad_input_gets_one_clear_line(override, words):
    if not words:                                      # layer_norm with the default lstm cell is fine
        load_config(None, [override])
        return
    with pytest.raises(ConfigError) as error:
        load_config(None, [override])
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_unknown_section_in_a_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("seed = 1\n[optimizer]\nlr = 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown section \[optimizer\]; did you mean \[optim\]"):
        load_config(path)
    path.write_text("seed = 1\n[optim\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_round_trip_through_toml(tmp_path):
    cfg = load_config("configs/adding_lstm.toml", ["--optim.betas=[0.5, 0.6]", "--out_dir=x y/\"z\""])
    path = tmp_path / "config.toml"
    path.write_text(toml.dumps(to_dict(cfg)))
    assert load_config(path) == cfg


def test_incompatible_format_version(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(toml.dumps({**to_dict(RunConfig()), "format_version": 99}))
    with pytest.raises(ConfigError, match="format_version 99 but this rnnkit reads format 1"):
        load_config(path)


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru", "mingru"])
def test_build_rnn_every_cell_with_regularisers(cell):
    cfg = ModelConfig(cell=cell, hidden_size=6, num_layers=2, bidirectional=True, dropout=0.1,
                      zoneout_h=0.1, zoneout_c=0.2, recurrent_dropout=0.1,
                      weight_drop=0.0 if cell == "mingru" else 0.3)
    rnn = build_rnn(cfg, 3)
    assert isinstance(rnn, Stacked) and isinstance(rnn.layers[0], Bidirectional)
    y, state = rnn(torch.randn(2, 5, 3))
    assert y.shape == (2, 5, 12) and len(state) == 2


def test_layer_norm_picks_the_layer_norm_cell():
    rnn = build_rnn(ModelConfig(cell="gru", layer_norm=True, hidden_size=4), 3)
    assert type(rnn.layers[0].cell) is CELLS["layernorm_gru"]
    with pytest.raises(ConfigError, match="layer_norm needs cell 'lstm' or 'gru'"):
        ModelConfig(cell="elman", layer_norm=True)


def test_a_switch_that_also_takes_auto_is_typed_as_either():
    from rnnkit.config import parse_config
    from rnnkit.io.fields import typed
    from rnnkit.tasks import build_task

    assert typed("task.differences", True, bool | str) is True
    assert typed("task.differences", "auto", bool | str) == "auto"
    with pytest.raises(ConfigError, match="task.differences expects true or false or a string, got 3"):
        typed("task.differences", 3, bool | str)
    cfg = parse_config("configs/classify_sequences.toml", ["task.path=x"])
    assert build_task(cfg.task).differences == "auto"
    task = ["task.name=sequence_classification", "task.path=x"]
    assert build_task(parse_config(None, [*task, "task.differences=false"]).task).differences is False
    with pytest.raises(ConfigError, match="task.differences must be true, false or 'auto', got 'yes'"):
        build_task(parse_config(None, [*task, "task.differences=yes"]).task)
