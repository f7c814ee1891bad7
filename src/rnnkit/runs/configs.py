"""Configs checked against everything they name: `config.py` reads and types a file; here the
names in it (task, cell, initialiser, method, optimiser, schedule) are looked up in the registries
of the packages that own them, and the task's own settings are checked by the task, so a typo
fails before a run directory is written.

    cfg = load_config("configs/adding_lstm.toml", ["--train.iterations=200"])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from ..cells import CELLS, INITIALIZERS
from ..config import RunConfig, TaskConfig, parse_config, with_overrides
from ..io.fields import lookup, resolve
from ..tasks import TASKS, build_task
from ..train import METHODS, OPTIMIZERS, SCHEDULES


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> RunConfig:
    """Reads a TOML file (None: the defaults), applies `--section.key=value` overrides and checks
    every name and task setting; errors name the key and the nearest valid value."""
    return check_config(parse_config(path, overrides))


def replace(cfg: RunConfig, overrides: Sequence[str]) -> RunConfig:
    """`cfg` with dotted overrides applied, checked as a file is."""
    return check_config(with_overrides(cfg, overrides))


def check_config(cfg: RunConfig) -> RunConfig:
    """`cfg` with every registry name looked up and the task's settings completed with their
    defaults (what config.toml in a run directory records), or a ConfigError."""
    lookup("model.cell", cfg.model.cell, CELLS)
    lookup("model.init", cfg.model.init, INITIALIZERS)
    lookup("train.method", cfg.train.method, METHODS)
    lookup("optim.name", cfg.optim.name, OPTIMIZERS)
    lookup("optim.schedule", cfg.optim.schedule, SCHEDULES)
    build_task(cfg.task)                                   # the task checks its own values
    settings = resolve(lookup("task.name", cfg.task.name, TASKS), dict(cfg.task.settings), "task")
    return dataclasses.replace(cfg, task=TaskConfig(cfg.task.name, settings))
