"""Speech recognition with CTC: data sources, the task, decoding, metrics and streaming features."""

from __future__ import annotations

from .task import SpeechRecognition as SpeechRecognition

__all__ = ["SpeechRecognition"]
