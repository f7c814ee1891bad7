"""Classification metrics, checked against hand calculations in the tests: confusion matrix,
accuracy, per-class precision/recall/F1, macro-F1 (as scikit-learn computes it), balanced class
weights and a printable per-class report."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def confusion_matrix(targets: Tensor, predictions: Tensor, num_classes: int) -> Tensor:
    """(C, C) counts: row = true class, column = predicted class."""
    index = targets.long() * num_classes + predictions.long()
    return torch.bincount(index, minlength=num_classes ** 2).view(num_classes, num_classes)


def accuracy(targets: Tensor, predictions: Tensor) -> float:
    return float((targets == predictions).float().mean())


def per_class(targets: Tensor, predictions: Tensor, num_classes: int) -> list[dict[str, float]]:
    """Precision, recall, F1 and support of each class (0 where a ratio is 0/0)."""
    m = confusion_matrix(targets, predictions, num_classes).double()
    tp, predicted, actual = m.diag(), m.sum(0), m.sum(1)
    ratio = lambda a, b: torch.where(b > 0, a / b.clamp_min(1), torch.zeros_like(a))
    precision, recall = ratio(tp, predicted), ratio(tp, actual)
    f1 = ratio(2 * precision * recall, precision + recall)
    return [{"precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]),
             "support": int(actual[c]), "predicted": int(predicted[c])} for c in range(num_classes)]


def macro_f1(targets: Tensor, predictions: Tensor, num_classes: int | None = None) -> float:
    num_classes = num_classes or int(max(targets.max(), predictions.max())) + 1
    rows = [r for r in per_class(targets, predictions, num_classes) if r["support"] or r["predicted"]]
    return sum(r["f1"] for r in rows) / len(rows)


def balanced_weights(ids: Tensor, num_classes: int) -> Tensor:
    counts = torch.bincount(ids, minlength=num_classes).float()
    return len(ids) / (num_classes * counts.clamp_min(1))


def report(targets: Tensor, predictions: Tensor, classes: Sequence[str]) -> str:
    """A per-class table (precision, recall, F1, support) with accuracy and macro averages."""
    rows = per_class(targets, predictions, len(classes))
    width = max(12, *(len(c) for c in classes))
    lines = [f"{'':>{width}}  precision  recall  f1-score  support"]
    for c, r in zip(classes, rows):
        lines.append(f"{c:>{width}}  {r['precision']:9.4f}  {r['recall']:6.4f}  {r['f1']:8.4f}  {r['support']:7d}")
    lines.append(f"{'accuracy':>{width}}  {'':9}  {'':6}  {accuracy(targets, predictions):8.4f}  {len(targets):7d}")
    lines.append(f"{'macro avg':>{width}}  {'':9}  {'':6}  {macro_f1(targets, predictions, len(classes)):8.4f}")
    return "\n".join(lines)
