"""Translation: encoder-decoder RNNs with attention, BLEU/chrF."""

from __future__ import annotations

from .task import Translation as Translation

__all__ = ["Translation"]
