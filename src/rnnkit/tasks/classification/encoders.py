"""Named pretrained encoders for `task.pretrained`: language models that rnnkit builds once, on
first use, and keeps in the cache (`$RNNKIT_CACHE/encoders/`), so the default text classifier
starts from a pretrained encoder on a fresh machine with no extra command (ULMFiT's first stage;
Howard & Ruder 2018).

    task.pretrained = "imdb"          # the recipe below, built once (13 min on 2 CPU cores)
    task.pretrained = "runs/my_lm"    # or any word-level language_modeling run of yours

A recipe's cache folder is named by a digest of the recipe, so a changed recipe is built anew
instead of reusing an encoder it does not describe. configs/lm_imdb.toml is the same recipe as a
file (a test keeps the two equal), to build it by hand or change it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from ...config import RunConfig, from_dict
from ...data.fetch import cache_dir
from ..base import BUILT_FILE

# the IMDB training reviews' text (never the test reviews, nor those the bundled UCI sentences were cut
# from): a tied 2 x 256 AWD-style LSTM
ENCODERS: dict[str, dict[str, Any]] = {
    "imdb": {
        "seed": 0,
        "task": {"name": "language_modeling", "path": "imdb", "level": "word", "max_vocab": 12000, "batch_size": 32,
                 "eval_batch_size": 10, "eval_bptt": 500, "tie_weights": True, "embedding_dropout": 0.05,
                 "exclude": "tests/data/uci_sentences.csv"},
        "model": {"cell": "lstm", "hidden_size": 256, "num_layers": 2, "dropout": 0.2, "input_dropout": 0.2,
                  "output_dropout": 0.3, "weight_drop": 0.2},
        "train": {"iterations": 2000, "eval_every": 500, "bptt": 50, "clip": 0.25, "metric": "ppl",
                  "restore_best": True, "baselines": False},
        "optim": {"name": "adam", "lr": 0.003, "schedule": "cosine", "min_lr": 0.0003},
    },
}


def encoder_dir(name: str) -> Path:
    """Where the named encoder's run lives (built or not)."""
    digest = hashlib.sha256(json.dumps(ENCODERS[name], sort_keys=True).encode()).hexdigest()[:10]
    return cache_dir() / "encoders" / f"{name}-{digest}"


def resolve(pretrained: str) -> str:
    """A named encoder's run directory; any other value (a run directory) as it is."""
    return str(encoder_dir(pretrained)) if pretrained in ENCODERS else pretrained


# the repository a source checkout runs from (the README's editable install), for the recipe's
# repository-relative files, so a classifier trained from any working directory builds the encoder
REPOSITORY = Path(__file__).resolve().parents[4]


def to_build(pretrained: str) -> tuple[Path, RunConfig] | None:
    """(run directory, config) of a named encoder that is not built yet (or whose build stopped
    before the end: its checkpoints' weights are not the encoder), else None."""
    if pretrained not in ENCODERS or (encoder_dir(pretrained) / BUILT_FILE).is_file():
        return None
    folder = encoder_dir(pretrained)
    recipe = copy.deepcopy(ENCODERS[pretrained])
    exclude = recipe["task"].get("exclude", "")
    if exclude and not Path(exclude).exists() and (REPOSITORY / exclude).is_file():
        recipe["task"]["exclude"] = str(REPOSITORY / exclude)      # the digest keeps naming the recipe as written
    return folder, from_dict({**recipe, "out_dir": str(folder)})
