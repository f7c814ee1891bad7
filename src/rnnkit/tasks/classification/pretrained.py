"""Word embeddings from a language_modeling run, to start a text classifier's (Dai & Le 2015):
read from the run directory's meta.json (its vocabulary) and model.safetensors (its embedding
matrix) alone, without building the language model or reading its corpus."""

from __future__ import annotations

import json
from pathlib import Path

from torch import Tensor

from ...train.checkpoint import META_FILE, WEIGHTS_FILE

EMBEDDING = "embedding.weight"       # LanguageModel.embedding's parameter


def language_model_embeddings(run_dir: str | Path) -> tuple[list[str], Tensor]:
    """(tokens, embedding matrix (V, E)) of a word-level language_modeling run."""
    run = Path(run_dir)
    where = f"task.init_embedding = {str(run_dir)!r}"
    if not (run / META_FILE).is_file() or not (run / WEIGHTS_FILE).is_file():
        raise ValueError(f"{where}: no {META_FILE} and {WEIGHTS_FILE} there; give a trained language_modeling "
                         "run directory")
    saved = json.loads((run / META_FILE).read_text(encoding="utf-8"))
    if saved.get("task") != "language_modeling":
        raise ValueError(f"{where} is a {saved.get('task')!r} run; its embeddings must come from a "
                         "language_modeling run")
    vocab = (saved.get("meta") or {}).get("vocab")
    if not isinstance(vocab, dict) or vocab.get("level") != "word":
        raise ValueError(f"{where}: its vocabulary is not word-level; only word embeddings match a text "
                         "classifier's words")
    from safetensors import safe_open  # deferred, as the checkpoint module does

    with safe_open(str(run / WEIGHTS_FILE), framework="pt") as f:
        if EMBEDDING not in f.keys():
            raise ValueError(f"{where}: its weights hold no {EMBEDDING}")
        weight = f.get_tensor(EMBEDDING)
    return list(vocab["tokens"]), weight
