"""A closed-loop series prediction over the truth, as a PNG (an echo state network's free run).

    plot_prediction(prediction, truth, "closed_loop.png", "84 free-running steps")
"""

from __future__ import annotations

from pathlib import Path

import torch

from .png import save_png


def plot_prediction(prediction: torch.Tensor, truth: torch.Tensor, path: str | Path, title: str, *,
                    ylabel: str = "tanh(x - 1)") -> Path:
    """Writes the prediction (T,) dashed over the truth (T,)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.5))
    axes.plot(truth.numpy(), label="truth", lw=2)
    axes.plot(prediction.numpy(), "--", label="closed-loop prediction")
    axes.set_xlabel("step")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    return save_png(figure, path, dpi=120)
