"""Sequence and text classification: the tasks, their evaluation pass and predictors."""

from __future__ import annotations

from ._common import Outcome as Outcome
from ._common import outcome as outcome
from .predict import Prediction as Prediction
from .predict import SequencePredictor as SequencePredictor
from .predict import TextPredictor as TextPredictor
from .task import SequenceClassification as SequenceClassification
from .task import TextClassification as TextClassification

__all__ = ["Outcome", "Prediction", "SequenceClassification", "SequencePredictor", "TextClassification",
           "TextPredictor", "outcome"]
