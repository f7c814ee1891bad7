"""The [tune] section of a config: what to search (the space), for which metric, with what budget.

    [tune]
    trials = 30
    metric = "nrmse_84"
    sampler = "tpe"                  # grid, random, tpe (Bayesian, TPE), gp (Bayesian, Gaussian process)
    [tune.space]                     # keys are the dotted names the command line overrides
    "optim.lr"          = { low = 1e-4, high = 1e-1, log = true }
    "model.hidden_size" = { low = 32, high = 256, step = 32 }
    "model.cell"        = { choices = ["lstm", "gru"] }

A range is an integer range when the config field is an integer, else a float range; choices are
any scalars the field accepts. Every entry is checked against the config before a trial runs: an
unknown key names the nearest one, and both ends of a range (every choice) must make a valid config.
`load_tune(path)` reads a config with its [tune] section (a CONFIG, or a tuning directory's tune.toml).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import RunConfig, parse_override, to_dict
from ..io import toml
from ..io.fields import ConfigError, check_choice, resolve
from ..runs.configs import load_config, replace

if sys.version_info >= (3, 11):
    import tomllib
else:                                                       # pragma: no cover
    import tomli as tomllib

SETUP_FILE = "tune.toml"    # in the tuning directory: the base config and its [tune] section, as run
SAMPLERS = ("grid", "random", "tpe", "gp")
PRUNERS = ("none", "median", "hyperband", "successive_halving")


@dataclass(frozen=True)
class Range:
    """low..high, on a log scale or in steps; integer when the config field is an integer."""

    low: float
    high: float
    log: bool = False
    step: float = 0.0               # 0: continuous floats, or every integer
    integer: bool = False

    def grid(self, key: str) -> list[Any]:
        if self.integer:
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if not self.step:
            raise ConfigError(f"tune.space.{key}: the grid sampler needs a step or choices for a float range")
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        return [round(self.low + i * self.step, 12) for i in range(count)]


@dataclass(frozen=True)
class Choice:
    choices: tuple[Any, ...]

    def grid(self, key: str) -> list[Any]:
        return list(self.choices)


@dataclass(frozen=True)
class TuneConfig:
    trials: int = 0                 # trials to run in all (finished, pruned or failed); 0: the whole grid (grid only)
    timeout: float = 0.0            # seconds after which a worker starts no new trial; 0 = no limit
    metric: str = ""                # a validation metric of the task; "" = train.metric, else the task's first
    direction: str = ""             # minimize or maximize; "" = train.direction
    sampler: str = "tpe"            # grid, random, tpe, gp
    seed: int = 0                   # sampler seed; worker i uses seed + i
    startup_trials: int = 10        # random trials before TPE or GP model the objective
    pruner: str = "none"            # none, median, hyperband, successive_halving
    prune_startup: int = 5          # median: finished trials before any pruning
    prune_warmup: int = 0           # iterations a trial always trains before it can be pruned
    workers: int = 1                # worker processes on this machine
    storage: str = ""               # "" = a journal file in the tuning directory; or a database URL
    study: str = ""                 # study name in the storage; "" = the tuning directory's name
    out_dir: str = ""               # the tuning directory; "" = the config's out_dir + "-tune"
    plots: bool = True              # PNGs of the study in DIR/plots at the end
    space: Mapping[str, Range | Choice] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("tune.sampler", self.sampler, SAMPLERS)
        check_choice("tune.pruner", self.pruner, PRUNERS)
        if self.direction:
            check_choice("tune.direction", self.direction, ["minimize", "maximize"])
        for name in ("trials", "startup_trials", "prune_startup", "prune_warmup"):
            if getattr(self, name) < 0:
                raise ConfigError(f"tune.{name} must be >= 0, got {getattr(self, name)}")
        if self.workers < 1 or self.timeout < 0:
            raise ConfigError(f"tune.workers must be >= 1 and tune.timeout >= 0, got {self.workers} and {self.timeout}")
        if not self.space:
            raise ConfigError('nothing to search: add a [tune.space] table, e.g. "optim.lr" = { low = 1e-4, '
                              'high = 1e-1, log = true }')
        if self.sampler != "grid" and self.trials == 0 and self.timeout == 0:
            raise ConfigError("set tune.trials or tune.timeout above 0 (only the grid sampler has a natural end)")

    def grid(self) -> dict[str, list[Any]]:
        return {key: spec.grid(key) for key, spec in self.space.items()}


def load_tune(path: str | Path, overrides: Sequence[str] = ()) -> tuple[RunConfig, TuneConfig]:
    """The base run config and its [tune] section, with `--section.key=value` overrides applied
    (`--tune.*` ones to the [tune] section)."""
    is_tune = lambda o: o.removeprefix("--").startswith("tune.")
    base = load_config(path, [o for o in overrides if not is_tune(o)])
    raw = tomllib.loads(Path(path).read_text()).get("tune", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: tune must be a section: [tune]")
    for override in filter(is_tune, overrides):
        key, value = parse_override(override)
        raw[key.removeprefix("tune.")] = value
    spec = tune_config(raw, base)
    if spec.sampler == "grid":
        size = math.prod(len(values) for values in spec.grid().values())
        if spec.trials > size:
            print(f"tune.trials = {spec.trials} but the grid has {size} points; running {size}", flush=True)
        spec = dataclasses.replace(spec, trials=min(spec.trials or size, size))
    return base, spec


def objective(base: RunConfig, spec: TuneConfig) -> tuple[str, str]:
    """(metric, direction) of the study: [tune]'s, else [train]'s ("" metric: the task's first)."""
    return spec.metric or base.train.metric, spec.direction or base.train.direction


def overrides(values: Mapping[str, Any]) -> list[str]:
    """A trial's parameters as command-line overrides: {"optim.lr": 0.01} -> ["--optim.lr=0.01"]."""
    return [f"--{key}={toml.value(value)}" for key, value in values.items()]


def tune_config(raw: Mapping[str, Any], base: RunConfig) -> TuneConfig:
    """The [tune] table `raw`, checked against TuneConfig and, for [tune.space], against `base`."""
    raw = dict(raw)
    space = raw.pop("space", {})
    if not isinstance(space, Mapping):
        raise ConfigError("tune.space must be a table: [tune.space]")
    settings = resolve(TuneConfig, raw, "tune", skip=("space",))
    return TuneConfig(**settings, space={key: parse_entry(key, spec, base) for key, spec in space.items()})


def parse_entry(key: str, spec: Any, base: RunConfig) -> Range | Choice:
    current = _current(key, base)
    where = f"tune.space.{key}"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must be a table: {{ low = ..., high = ... }} or {{ choices = [...] }}")
    names = ["choices"] if "choices" in spec else ["low", "high", "log", "step"]
    for name in spec:
        if name not in names:
            near = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ConfigError(f"{where}: unknown setting {name!r}; {hint}a range takes low, high, log and step, "
                              "a list takes choices")
    if "choices" in spec:
        entry: Range | Choice = _choice(where, spec["choices"])
    elif isinstance(current, (bool, str)):
        raise ConfigError(f"{where} is {'true or false' if isinstance(current, bool) else 'a string'}; "
                          "search it with { choices = [...] }")
    else:
        entry = _range(where, spec, integer=isinstance(current, int))
    ends = entry.choices if isinstance(entry, Choice) else (entry.low, entry.high)
    for value in ends:
        value = int(value) if isinstance(entry, Range) and entry.integer else value
        try:
            replace(base, [f"--{key}={toml.value(value)}"])
        except ConfigError as error:
            raise ConfigError(f"{where} = {value!r} is not a valid config: {error}") from None
    return entry


def _current(key: str, base: RunConfig) -> Any:
    """The base config's value of `key`; a ConfigError naming the nearest key when there is none."""
    if key in ("out_dir", "format_version"):
        raise ConfigError(f"tune.space.{key}: {key} is not a hyperparameter")
    section, _, name = key.rpartition(".")
    values = to_dict(base)
    table = values.get(section, {}) if section else values
    if isinstance(table, Mapping) and name in table:
        return table[name]
    replace(base, [f"--{key}=0"])      # raises the config's own error: unknown key or section, nearest name
    raise ConfigError(f"tune.space.{key} is not a config key")


def _choice(where: str, choices: Any) -> Choice:
    if not isinstance(choices, list) or not choices:
        raise ConfigError(f"{where}: choices must be a non-empty array, got {choices!r}")
    for value in choices:
        if not isinstance(value, (bool, int, float, str)):
            raise ConfigError(f"{where}: choices must be numbers, strings or booleans, got {value!r}")
    return Choice(tuple(choices))


def _range(where: str, spec: Mapping[str, Any], *, integer: bool) -> Range:
    for name in ("low", "high"):
        if name not in spec:
            raise ConfigError(f"{where} needs low and high (or choices = [...])")
    kinds = {f.name: f.type for f in fields(Range)}
    for name, value in spec.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (kinds[name] == "bool") != isinstance(value, bool) or (kinds[name] == "float" and not number):
            raise ConfigError(f"{where}.{name} expects {'true or false' if kinds[name] == 'bool' else 'a number'}, "
                              f"got {value!r}")
    entry = Range(float(spec["low"]), float(spec["high"]), spec.get("log", False), float(spec.get("step", 0.0)),
                  integer)
    low, high, step = entry.low, entry.high, entry.step
    if low > high:
        raise ConfigError(f"{where}: low > high ({low:g} > {high:g})")
    if low == high:
        raise ConfigError(f"{where}: empty range (low = high = {low:g}); set the value in the config instead")
    if entry.log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low > 0, got low = {low:g}")
    if step < 0 or (entry.log and step):
        raise ConfigError(f"{where}: step must be > 0 and cannot combine with log = true")
    if integer and any(v != int(v) for v in (low, high, step)):
        raise ConfigError(f"{where}: the config field is an integer; low, high and step must be integers")
    if step > high - low:
        raise ConfigError(f"{where}: empty range: step {step:g} is larger than high - low = {high - low:g}")
    return entry


def space_toml(tune: TuneConfig) -> str:
    """[tune] and [tune.space] as TOML, for the tuning directory's tune.toml."""
    lines = ["[tune]"] + [f"{f.name} = {toml.value(getattr(tune, f.name))}" for f in fields(tune)
                          if f.name != "space"]
    lines += ["", "[tune.space]"]
    for key, spec in tune.space.items():
        if isinstance(spec, Choice):
            body = f"choices = {toml.value(list(spec.choices))}"
        else:
            cast = int if spec.integer else float
            body = f"low = {toml.value(cast(spec.low))}, high = {toml.value(cast(spec.high))}, log = " \
                   f"{toml.value(spec.log)}, step = {toml.value(cast(spec.step))}"
        lines.append(f"{toml.key(key)} = {{ {body} }}")
    return "\n".join(lines) + "\n"
