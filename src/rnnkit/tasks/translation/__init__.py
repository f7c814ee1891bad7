"""Translation: encoder-decoder RNNs with attention, BLEU/chrF."""

from __future__ import annotations

from .predict import TranslationPredictor as TranslationPredictor
from .task import Translation as Translation

__all__ = ["Translation", "TranslationPredictor"]
