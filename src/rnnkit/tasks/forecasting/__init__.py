"""Forecasting: global recurrent forecasters (direct, seq2seq, autoregressive, ES-RNN), their
backtests against statistical baselines."""

from __future__ import annotations

from .task import Forecasting as Forecasting

__all__ = ["Forecasting"]
