"""Word embeddings on their two leading principal components, each point labelled with its token.

    words, xy = pca_points(model, vocab, count=300)        # rnnkit.models.embeddings
    plot_pca(xy, words, "words.png")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .png import save_png


def plot_pca(xy: torch.Tensor, words: Sequence[str], path: str | Path, *, title: str = "") -> Path:
    """Writes the (N, 2) points as a scatter plot labelled with the N tokens."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("the PCA plot needs matplotlib: pip install 'rnnkit[plot]'") from e
    if tuple(xy.shape) != (len(words), 2):
        raise ValueError(f"need (N, 2) points for {len(words)} tokens, got shape {tuple(xy.shape)}")
    points = xy.detach().float().numpy()
    fig, ax = plt.subplots(figsize=(12, 12))
    ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.4)
    for (x, y), w in zip(points, words):
        ax.annotate(repr(w)[1:-1], (x, y), fontsize=7)     # "\n" shows as \n, not a line break
    ax.set_title(title or f"PCA of the input embeddings of the {len(words)} most frequent tokens")
    return save_png(fig, path)
