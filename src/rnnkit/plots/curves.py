"""A run's training curves as PNGs, from the rows of its metrics.jsonl: one picture per curve
(the training loss, gradient norm and learning rate, and each validation metric).

    plot_curves(Path("runs/x/plots"), read_metrics("runs/x"))    # plots/train_loss.png, valid_ppl.png...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .png import save_png


def plot_curves(folder: Path, rows: list[dict[str, Any]]) -> None:
    """One PNG per curve; rows are {"iteration", "split": "train" or "valid", name: value...}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid"):
        picked = [r for r in rows if r["split"] == split]
        for name in dict.fromkeys(k for r in picked for k in r if k not in ("iteration", "split")):
            points = [(r["iteration"], r[name]) for r in picked if name in r]
            figure, axes = plt.subplots(figsize=(6, 4))
            axes.plot(*zip(*points), marker="." if split == "valid" else None)
            axes.set(xlabel="iteration", ylabel=name, title=f"{split} {name}")
            if name in ("loss", "grad_norm") and all(v > 0 for _, v in points):
                axes.set_yscale("log")
            figure.tight_layout()
            save_png(figure, folder / f"{split}_{name}.png", dpi=80)
