"""Run configuration: typed frozen dataclasses, TOML files and dotted overrides.

    cfg = parse_config("configs/adding_lstm.toml", ["--train.iterations=200", "--optim.lr=3e-3"])

A file has top-level `seed` and `out_dir` and the sections [task], [model], [train], [optim].
Every key is checked against its dataclass field: an unknown key or section is an error naming
the closest valid one, a wrong type is an error naming the key, the expected type and the value.
This module is a leaf (it imports only `rnnkit.io`): names such as model.cell or optim.name are
plain strings here, looked up in their package's registry where they are used
(`rnnkit.io.fields.lookup`). `rnnkit.load_config` (in `rnnkit.runs`) also checks them all, with the
task's own settings, before a run starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io.fields import ConfigError, check_choice, resolve, typed, unknown

if sys.version_info >= (3, 11):
    import tomllib
else:                                                       # pragma: no cover
    import tomli as tomllib

CONFIG_FORMAT = 1   # bump when a saved config.toml can no longer be read as it was written


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _probabilities(section: str, obj: object, names: Sequence[str]) -> None:
    for name in names:
        value = getattr(obj, name)
        _check(0.0 <= value < 1.0, f"{section}.{name} must be in [0, 1), got {value}")


@dataclass(frozen=True)
class TaskConfig:
    """`name` (a key of `rnnkit.tasks.TASKS`) and that task's own settings. The settings are plain
    TOML values here; `rnnkit.tasks.build_task` checks them against the task's dataclass."""

    name: str = "adding"
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "lstm"              # key of CELLS
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    layer_norm: bool = False        # lstm -> layernorm_lstm, gru -> layernorm_gru
    dropout: float = 0.0            # locked dropout between layers
    input_dropout: float = 0.0      # locked dropout on the model's input sequence
    output_dropout: float = 0.0     # locked dropout on the last layer's outputs
    zoneout_h: float = 0.0          # Krueger et al. 2016
    zoneout_c: float = 0.0
    recurrent_dropout: float = 0.0  # Gal & Ghahramani 2016
    weight_drop: float = 0.0        # DropConnect on weight_hh (Merity et al. 2017)
    init: str = "orthogonal"        # key of INITIALIZERS
    forget_bias: float = 1.0
    dilations: tuple[int, ...] = ()  # one per layer: layer i's state comes from d_i steps back (Chang et al. 2017)
    residual: bool = False          # add each layer's input to its output from the second layer on

    def __post_init__(self) -> None:
        _check(self.hidden_size >= 1, f"model.hidden_size must be >= 1, got {self.hidden_size}")
        _check(self.num_layers >= 1, f"model.num_layers must be >= 1, got {self.num_layers}")
        _check(not self.dilations or len(self.dilations) == self.num_layers,
               f"model.dilations needs one entry per layer (num_layers = {self.num_layers}), got "
               f"{list(self.dilations)}; e.g. num_layers = 4, dilations = [1, 3, 6, 12]")
        _check(all(int(d) >= 1 for d in self.dilations), f"model.dilations must be >= 1, got {list(self.dilations)}")
        _check(not self.layer_norm or self.cell in ("lstm", "gru"),
               f"model.layer_norm needs cell 'lstm' or 'gru', got {self.cell!r}")
        _probabilities("model", self, ("dropout", "input_dropout", "output_dropout", "zoneout_h",
                                       "zoneout_c", "recurrent_dropout", "weight_drop"))
        _check(self.weight_drop == 0.0 or self.cell != "mingru",
               "model.weight_drop needs a cell with weight_hh; mingru has none")


@dataclass(frozen=True)
class TrainConfig:
    method: str = "gradient"        # key of rnnkit.train.METHODS
    iterations: int = 1000          # optimiser updates; replaced by epochs when epochs > 0
    epochs: int = 0
    batch_size: int = 32            # the global batch, split across processes
    bptt: int = 0                   # chunk length of truncated BPTT; 0 = full BPTT
    random_bptt: bool = False       # Merity et al. 2017: N(bptt, 5) w.p. 0.95, else N(bptt/2, 5)
    clip: float = 0.0               # max global gradient norm; 0 = off
    clip_value: float = 0.0         # max |gradient| per element; 0 = off
    accumulate: int = 1             # chunks per optimiser update
    eval_every: int = 100           # iterations; 0 = only at the end
    eval_every_epochs: int = 0      # > 0 (with epochs): evaluate every this many epochs instead (any data size)
    log_every: int = 1
    checkpoint_every: int = 0       # iterations; 0 = at every evaluation
    patience: int = 0               # evaluations without improvement before stopping; 0 = off
    metric: str = ""                # validation metric for early stopping/plateau/NT-ASGD; "" = first
    direction: str = "minimize"
    restore_best: bool = False      # end with the weights of the best validation (Keras restore_best_weights)
    device: str = "auto"            # auto, cpu, cuda, cuda:N
    amp: str = "none"               # none, bf16, fp16 (autocast; fp16 needs CUDA)
    on_nonfinite: str = "stop"      # stop, or skip the update and count it
    plots: bool = True              # PNG curves in RUN_DIR/plots at the end
    baselines: bool = True          # at the end, the task's simple baselines beside the model (baselines.json)
    # gradual unfreezing (Howard & Ruder 2018): a model with layer groups trains its top group alone
    # for this many epochs, then one more group (top down) every this many epochs; 0 = all from the start
    unfreeze_epochs: int = 0

    def __post_init__(self) -> None:
        check_choice("train.direction", self.direction, ["minimize", "maximize"])
        check_choice("train.amp", self.amp, ["none", "bf16", "fp16"])
        check_choice("train.on_nonfinite", self.on_nonfinite, ["stop", "skip"])
        _check(self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
               f"train.device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        for name in ("iterations", "epochs", "bptt", "eval_every", "eval_every_epochs", "checkpoint_every", "patience",
                     "unfreeze_epochs"):
            _check(getattr(self, name) >= 0, f"train.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("batch_size", "accumulate", "log_every"):
            _check(getattr(self, name) >= 1, f"train.{name} must be >= 1, got {getattr(self, name)}")
        _check(self.iterations > 0 or self.epochs > 0, "set train.iterations or train.epochs above 0")
        _check(not self.eval_every_epochs or self.epochs > 0, "train.eval_every_epochs needs train.epochs > 0")
        _check(self.clip >= 0 and self.clip_value >= 0, "train.clip and train.clip_value must be >= 0")
        _check(not self.random_bptt or self.bptt > 0, "train.random_bptt needs train.bptt > 0")
        _check(not self.unfreeze_epochs or self.epochs > 0, "train.unfreeze_epochs needs train.epochs > 0")


@dataclass(frozen=True)
class OptimConfig:
    name: str = "adam"              # key of rnnkit.train.OPTIMIZERS
    lr: float = 1e-3
    weight_decay: float = 0.0       # on weights with dim >= 2 only (biases and norms never decay)
    momentum: float = 0.9           # momentum and rmsprop
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    alpha: float = 0.99             # rmsprop smoothing
    rho: float = 0.9                # adadelta
    nonmono: int = 5                # NT-ASGD: evaluations to look back (Merity et al. 2017)
    schedule: str = "constant"      # key of rnnkit.train.SCHEDULES
    warmup: int = 0                 # iterations of linear warm-up
    step_size: int = 1000           # step schedule: multiply by gamma every step_size iterations
    step_start: int = 0             # ... counted from this iteration (Zaremba et al.: decay after epoch 4)
    gamma: float = 0.1              # step and plateau factor
    min_lr: float = 0.0             # cosine floor
    plateau_patience: int = 2       # evaluations without improvement before the plateau cut
    cut_frac: float = 0.1           # slanted_triangular: share of the iterations spent rising (Howard & Ruder 2018)
    ratio: float = 32.0             # slanted_triangular: how much smaller the lowest rate is than lr
    # discriminative learning rates (Howard & Ruder 2018: 2.6): in a model with layer groups, each
    # group below the top learns at the rate of the group above divided by this; 1 = one rate
    layer_decay: float = 1.0

    def __post_init__(self) -> None:
        _check(self.lr > 0, f"optim.lr must be > 0, got {self.lr}")
        _check(self.weight_decay >= 0, f"optim.weight_decay must be >= 0, got {self.weight_decay}")
        _probabilities("optim", self, ("momentum", "alpha", "rho"))
        _check(all(0.0 <= b < 1.0 for b in self.betas), f"optim.betas must be in [0, 1), got {self.betas}")
        _check(not self.nesterov or (self.name == "momentum" and self.momentum > 0),
               "optim.nesterov needs optim.name = 'momentum' and optim.momentum > 0")
        _check(self.eps > 0 and 0 < self.gamma <= 1, "optim.eps must be > 0 and optim.gamma in (0, 1]")
        for name in ("nonmono", "step_size", "plateau_patience"):
            _check(getattr(self, name) >= 1, f"optim.{name} must be >= 1, got {getattr(self, name)}")
        _check(self.warmup >= 0 and self.min_lr >= 0 and self.step_start >= 0,
               "optim.warmup, optim.min_lr and optim.step_start must be >= 0")
        _check(self.schedule != "plateau" or self.warmup == 0, "optim.warmup does not combine with plateau")
        _check(0 < self.cut_frac < 1 and self.ratio >= 1 and self.layer_decay >= 1,
               "optim.cut_frac must be in (0, 1), optim.ratio and optim.layer_decay >= 1")


@dataclass(frozen=True)
class RunConfig:
    seed: int = 0
    out_dir: str = "runs/run"
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        # torch.manual_seed takes a 64-bit integer; beyond it the error is "Overflow when unpacking long long"
        _check(0 <= self.seed < 2**63, f"seed must be an integer in [0, 2**63), got {self.seed}")


SECTIONS: dict[str, type] = {"model": ModelConfig, "train": TrainConfig, "optim": OptimConfig}
_TOP = ("seed", "out_dir", "format_version")


def parse_config(path: str | Path | None, overrides: Sequence[str] = ()) -> RunConfig:
    """Reads a TOML file (None: the defaults) and applies `--section.key=value` overrides; the
    names of registries are not looked up here (see `rnnkit.load_config`)."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {str(path)!r} does not exist") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path} is not valid TOML: {error}") from None
        # an empty file would otherwise train every default, which nobody means by giving a file
        _check(bool(raw), f"config file {path} is empty (or only comments); give at least [task] name = ..., "
                          "e.g. copy one of configs/*.toml")
    return from_dict(_apply(raw, overrides))


def _apply(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    for override in overrides:
        key, value = parse_override(override)
        section, _, name = key.rpartition(".")
        target = raw.setdefault(section, {}) if section else raw
        _check(isinstance(target, dict), f"override {override!r}: {section!r} is not a section")
        target[name] = value
    return raw


def parse_override(text: str) -> tuple[str, Any]:
    """'--train.bptt=70' -> ('train.bptt', 70); the value is read as TOML, else as a plain string."""
    key, eq, value = text.removeprefix("--").partition("=")
    _check(bool(eq) and bool(key), f"override {text!r} must look like --section.key=value")
    try:
        return key, tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value


def from_dict(raw: Mapping[str, Any]) -> RunConfig:
    raw = {key: value for key, value in raw.items() if key != "tune"}   # [tune] is read by rnnkit tune only
    sections = ["task", *SECTIONS]
    for key, value in raw.items():
        if isinstance(value, dict) and key not in sections:
            near = difflib.get_close_matches(key, sections, n=1)
            hint = f"did you mean [{near[0]}]? " if near else ""
            raise ConfigError(f"unknown section [{key}]; {hint}sections are {', '.join(sections)}")
        if not isinstance(value, dict):
            unknown(key, _TOP, "")
    version = raw.get("format_version", CONFIG_FORMAT)
    _check(version == CONFIG_FORMAT, f"this config has format_version {version} but this rnnkit reads "
           f"format {CONFIG_FORMAT}; rewrite it from a current config file")
    top = resolve(RunConfig, {k: raw[k] for k in ("seed", "out_dir") if k in raw}, "", skip=sections)
    task_raw = dict(raw.get("task", {}))
    task = TaskConfig(typed("task.name", task_raw.pop("name", "adding"), str), task_raw)
    parts = {name: cls(**resolve(cls, raw.get(name, {}), name)) for name, cls in SECTIONS.items()}
    return RunConfig(**top, task=task, **parts)


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The fully resolved config as plain TOML-ready values."""
    out: dict[str, Any] = {"format_version": CONFIG_FORMAT, "seed": cfg.seed, "out_dir": cfg.out_dir,
                           "task": {"name": cfg.task.name, **cfg.task.settings}}
    for name in SECTIONS:
        out[name] = dataclasses.asdict(getattr(cfg, name))
    return out


def with_overrides(cfg: RunConfig, overrides: Sequence[str]) -> RunConfig:
    """`cfg` with dotted overrides applied, checked as in a file (names not looked up, as in parse_config)."""
    return from_dict(_apply(to_dict(cfg), overrides))
