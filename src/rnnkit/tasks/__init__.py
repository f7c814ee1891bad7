"""Tasks: thin assemblies of data, model, loss and metrics, chosen by name in config."""

from __future__ import annotations

from typing import Any

from ..config import TaskConfig
from ..io.fields import ConfigError, lookup, resolve
from .adding import Adding as Adding
from .base import Metrics as Metrics
from .base import Task as Task
from .chaotic_series import ChaoticSeries as ChaoticSeries
from .classification.task import SequenceClassification as SequenceClassification
from .classification.task import TextClassification as TextClassification
from .forecasting.task import Forecasting as Forecasting
from .language_modeling import LanguageModeling as LanguageModeling
from .speech.task import SpeechRecognition as SpeechRecognition
from .tagging.task import Tagging as Tagging
from .translation.task import Translation as Translation

TASKS: dict[str, type[Task]] = {
    "adding": Adding,
    "chaotic_series": ChaoticSeries,
    "forecasting": Forecasting,
    "language_modeling": LanguageModeling,
    "sequence_classification": SequenceClassification,
    "speech": SpeechRecognition,
    "tagging": Tagging,
    "text_classification": TextClassification,
    "translation": Translation,
}



def build_task(cfg: TaskConfig) -> Any:
    """The task a [task] section names, its settings checked against the task's dataclass (an
    unknown key or name is an error naming the nearest valid one) and by the task itself."""
    cls = lookup("task.name", cfg.name, TASKS)
    settings = resolve(cls, dict(cfg.settings), "task")
    try:
        return cls(**settings)
    except (ValueError, TypeError) as error:
        raise ConfigError(str(error)) from None


__all__ = ["TASKS", "build_task", "Adding", "ChaoticSeries", "Forecasting", "LanguageModeling", "Metrics",
           "SequenceClassification", "SpeechRecognition", "Tagging", "Task", "TextClassification", "Translation"]
