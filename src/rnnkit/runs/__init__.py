"""Whole runs: a config becomes a run directory (`run`), a run directory becomes a model with its
predictor again (`load`), without the training data.

    metrics = rnnkit.run(rnnkit.load_config("configs/adding_lstm.toml"))
    saved = rnnkit.load("runs/adding_lstm")             # .cfg, .task, .model, .meta, .predict(...)
"""

from __future__ import annotations

from .baselines import BASELINES_FILE as BASELINES_FILE
from .baselines import SPLIT_FILE as SPLIT_FILE
from .configs import check_config as check_config
from .configs import load_config as load_config
from .configs import replace as replace
from .load import SavedRun as SavedRun
from .load import evaluate_run as evaluate_run
from .load import load as load
from .load import read_config as read_config
from .load import read_meta as read_meta
from .run import distributed as distributed
from .run import run as run
from .run import seed_everything as seed_everything

__all__ = ["BASELINES_FILE", "SPLIT_FILE", "SavedRun", "check_config", "distributed", "evaluate_run", "load",
           "load_config", "read_config", "read_meta", "replace", "run", "seed_everything"]
