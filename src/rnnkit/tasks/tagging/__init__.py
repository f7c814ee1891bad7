"""Sequence labelling: part-of-speech tagging and named-entity recognition (task.py)."""

from .predict import TaggedSentence as TaggedSentence
from .predict import TagPredictor as TagPredictor
from .task import TaggedSplits as TaggedSplits
from .task import Tagging as Tagging

__all__ = ["TagPredictor", "TaggedSentence", "TaggedSplits", "Tagging"]
