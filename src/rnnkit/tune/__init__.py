"""Hyperparameter search with Optuna: the search space ([tune] and [tune.space]), the study and
its storage, the worker that runs trials, and the report a study leaves behind."""

from __future__ import annotations

from .search import tune as tune

__all__ = ["tune"]
