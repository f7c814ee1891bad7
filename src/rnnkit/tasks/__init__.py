"""Tasks: thin assemblies of data, model, loss and metrics, chosen by name in config."""

from __future__ import annotations

from .adding import Adding as Adding
from .base import Metrics as Metrics
from .base import Task as Task

TASKS: dict[str, type[Task]] = {
    "adding": Adding,
}

__all__ = ["TASKS", "Adding", "Metrics", "Task"]
