"""Models: recurrent stacks with the input and output layers a task needs. They return
outputs, never losses: tasks score them."""

from __future__ import annotations

from .sequence import SequenceModel as SequenceModel

__all__ = ["SequenceModel"]
