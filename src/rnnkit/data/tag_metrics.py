"""Scores of predicted tag sequences: token accuracy, and entity-level precision, recall and F1
as conlleval computes them (CoNLL-2000/2003), by seqeval's default mode.

    token_accuracy(gold, pred)                    # 0.667
    entity_scores(gold, pred)                     # {"precision": 0.333, "recall": 0.4, "f1": 0.364}

An entity counts as found only if its type and both boundaries match a gold one. seqeval's default
mode reads tags as conlleval does (an I-X after O or another type starts an X entity), so a model's
invalid sequences are scored, not refused; use `tag_schemes.check` on gold data instead.
"""

from __future__ import annotations

from collections.abc import Sequence

Tags = Sequence[Sequence[str]]    # one tag sequence per sentence


def token_accuracy(gold: Tags, pred: Tags) -> float:
    """The fraction of tokens whose predicted tag equals the gold one (O tokens included)."""
    _same_shape(gold, pred)
    total = sum(len(g) for g in gold)
    if not total:
        raise ValueError("no tokens to score: gold holds no tags")
    return sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p)) / total


def entity_scores(gold: Tags, pred: Tags) -> dict[str, float]:
    """Micro-averaged entity precision, recall and F1 over all entity types (0.0 where undefined)."""
    _same_shape(gold, pred)
    try:
        from seqeval.metrics import f1_score, precision_score, recall_score
    except ImportError as err:
        raise ImportError("entity scores need seqeval: pip install seqeval") from err
    gold, pred = [list(g) for g in gold], [list(p) for p in pred]
    # zero_division=0: no predicted (or no gold) entities score 0 without seqeval's warning
    return {"precision": float(precision_score(gold, pred, zero_division=0)),
            "recall": float(recall_score(gold, pred, zero_division=0)),
            "f1": float(f1_score(gold, pred, zero_division=0))}


def _same_shape(gold: Tags, pred: Tags) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted ones; score them in pairs")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted ones; predict one tag "
                             "per token")
