"""Sequence and text classification."""

from __future__ import annotations

from .task import SequenceClassification as SequenceClassification
from .task import TextClassification as TextClassification

__all__ = ["SequenceClassification", "TextClassification"]
