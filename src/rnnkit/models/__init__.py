"""Models: recurrent stacks with the input and output layers a task needs. They return
outputs, never losses: tasks score them."""

from __future__ import annotations

from .language_model import LanguageModel as LanguageModel
from .seq2seq import Seq2Seq as Seq2Seq
from .sequence import SequenceModel as SequenceModel
from .stack import build_rnn as build_rnn

__all__ = ["LanguageModel", "Seq2Seq", "SequenceModel", "build_rnn"]
