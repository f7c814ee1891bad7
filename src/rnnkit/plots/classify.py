"""Pictures of a classifier for `rnnkit classify`: the confusion matrix, and a text's attention-pooling
weights as coloured terminal text (rich) and as a PNG heat strip.

    plot_confusion(matrix, classes, "runs/x/confusion_test.png")
    console.print(attention_text(tokens, weights))          # white (0) -> red (the largest weight)
    attention_strip(tokens, weights, "runs/x/attention/1.png")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .png import save_png

STRIP_WIDTH = 16           # tokens per row of the heat strip; a long review wraps onto more rows


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    return save_png(fig, path)


def plot_confusion(matrix: torch.Tensor, classes: Sequence[str], path: str | Path) -> Path:
    """A PNG of the confusion matrix, counts written in the cells."""
    n = len(classes)
    fig, ax = _pyplot().subplots(figsize=(2 + 0.6 * n, 1.5 + 0.6 * n))
    ax.imshow(matrix.numpy(), cmap="Blues")
    ax.set_xticks(range(n), labels=list(classes), rotation=45, ha="right")
    ax.set_yticks(range(n), labels=list(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = int(matrix.max()) if matrix.numel() else 0
    for i in range(n):
        for j in range(n):
            v = int(matrix[i, j])
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def attention_text(tokens: Sequence[str], weights: torch.Tensor):
    """A rich Text of the tokens on backgrounds from white (weight 0) to red (the largest
    weight), the scale ending the line; print it with a rich Console."""
    from rich.text import Text

    top = float(weights.max()) if len(weights) else 0.0
    text = Text()
    for token, w in zip(tokens, weights.tolist()):
        fade = 255 - round(255 * w / top) if top > 0 else 255       # relative: short texts stay readable
        text.append(token, style=f"black on rgb(255,{fade},{fade})")
        text.append(" ")
    text.append(f"(white 0 .. red {top:.3f})", style="dim")
    return text


def attention_strip(tokens: Sequence[str], weights: torch.Tensor, path: str | Path, *, title: str = "") -> Path:
    """A PNG heat strip: one cell per token, coloured by its weight (white 0 .. dark red the
    largest) with the token and its weight written in it, STRIP_WIDTH tokens per row."""
    rows = max(1, -(-len(tokens) // STRIP_WIDTH))
    grid = torch.full((rows * STRIP_WIDTH,), float("nan"))
    grid[: len(weights)] = weights.float()
    fig, ax = _pyplot().subplots(figsize=(STRIP_WIDTH * 0.9, 0.3 + 0.55 * rows))
    ax.imshow(grid.view(rows, STRIP_WIDTH).numpy(), cmap="Reds", vmin=0, vmax=float(weights.max()), aspect="auto")
    for i, (token, w) in enumerate(zip(tokens, weights.tolist())):
        dark = w > 0.6 * float(weights.max())
        ax.text(i % STRIP_WIDTH, i // STRIP_WIDTH, f"{token[:12]}\n{w:.3f}", ha="center", va="center",
                fontsize=7, color="white" if dark else "black")
    ax.set_axis_off()
    if title:
        ax.set_title(title[:100], fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
