"""Tasks: thin assemblies of data, model, loss and metrics, chosen by name in config."""

from __future__ import annotations

from .adding import Adding as Adding
from .base import Metrics as Metrics
from .base import Task as Task
from .chaotic_series import ChaoticSeries as ChaoticSeries
from .classification import SequenceClassification as SequenceClassification
from .classification import TextClassification as TextClassification
from .forecasting import Forecasting as Forecasting
from .language_modeling import LanguageModeling as LanguageModeling
from .speech import SpeechRecognition as SpeechRecognition
from .translation import Translation as Translation

TASKS: dict[str, type[Task]] = {
    "adding": Adding,
    "chaotic_series": ChaoticSeries,
    "forecasting": Forecasting,
    "language_modeling": LanguageModeling,
    "sequence_classification": SequenceClassification,
    "speech": SpeechRecognition,
    "text_classification": TextClassification,
    "translation": Translation,
}

__all__ = ["TASKS", "Adding", "ChaoticSeries", "Forecasting", "LanguageModeling", "Metrics",
           "SequenceClassification", "SpeechRecognition", "Task", "TextClassification", "Translation"]
