"""Writing a matplotlib figure as a PNG: atomically (a killed run never leaves half an image) and
closing the figure (pyplot keeps every open figure alive otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..io.files import atomic_write


def save_png(figure: Any, path: str | Path, *, dpi: int = 100, **savefig: Any) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=dpi, **savefig))
    finally:
        plt.close(figure)
    return path
