"""A CTC posteriogram as a PNG: each class's probability (rows: blank, then the characters the
utterance uses) over output frames (columns), with the greedy path's characters marked where
they are emitted. CTC outputs are peaky (Graves et al. 2006, figure 1): mostly blank, with a
spike per character, which is what this shows.

    plot_posteriogram(log_probs, "abc...", "p.png", title="three one", seconds_per_frame=0.01)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .png import save_png


def plot_posteriogram(log_probs: torch.Tensor, characters: str, path: str | Path, *,
                      emitted: Sequence[tuple[int, int]] = (), title: str = "",
                      seconds_per_frame: float | None = None) -> Path:
    """log_probs (T, C): class 0 is the blank, class i the character characters[i - 1]. Rows are
    the blank and every class that reaches probability 0.05 somewhere; `emitted` (class, frame)
    pairs (never the blank) are marked with their character, "_" for the space."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probs = log_probs.detach().double().exp().cpu()                                    # (T, C)
    if probs.dim() != 2 or probs.size(1) != len(characters) + 1:
        raise ValueError(f"log_probs of shape {tuple(probs.shape)} do not match blank + {len(characters)} "
                         "characters")
    rows = [0] + [c for c in range(1, probs.size(1)) if float(probs[:, c].max()) >= 0.05]
    name = lambda c: "blank" if c == 0 else ("space" if characters[c - 1] == " " else characters[c - 1])
    scale = seconds_per_frame or 1.0
    fig, ax = plt.subplots(figsize=(min(16.0, 3 + 0.06 * probs.size(0)), 1.2 + 0.22 * len(rows)))
    ax.imshow(probs[:, rows].T.numpy(), cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest",
              extent=(-0.5 * scale, (probs.size(0) - 0.5) * scale, len(rows) - 0.5, -0.5))
    ax.set_yticks(range(len(rows)), labels=[name(c) for c in rows], fontsize=8)
    for c, t in emitted:
        if c in rows:
            mark = "_" if characters[c - 1] == " " else characters[c - 1]
            ax.annotate(mark, (t * scale, rows.index(c)), color="red", fontsize=8, ha="center", va="center")
    ax.set_xlabel("seconds" if seconds_per_frame else "output frame")
    ax.set_title(title or "CTC posteriogram", fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)
