"""The attention of a translation as a PNG heat map: target tokens (rows) over source tokens
(columns), each row one decoder step's weights (Bahdanau et al. 2015, figure 3).

    plot_attention(weights, ["4", " ", "m", ...], ["2", "0", ...], "map.png")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .png import save_png


def plot_attention(weights: torch.Tensor, source: Sequence[str], target: Sequence[str], path: str | Path, *,
                   title: str = "") -> Path:
    """Writes the (S, T) weights as a grey-scale grid (white 0, black 1) labelled with the tokens."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if tuple(weights.shape) != (len(target), len(source)):
        raise ValueError(f"weights of shape {tuple(weights.shape)} do not match {len(target)} target and "
                         f"{len(source)} source tokens")
    show = lambda t: repr(t)[1:-1] if t.strip() else "␣"
    fig, ax = plt.subplots(figsize=(2 + 0.3 * len(source), 1.5 + 0.3 * len(target)))
    ax.imshow(weights.float().numpy(), cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), labels=[show(t) for t in source], rotation=90, fontsize=8)
    ax.set_yticks(range(len(target)), labels=[show(t) for t in target], fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)
