"""Every PNG rnnkit draws, and the only package that imports matplotlib. Functions here take
plain arrays, tensors and metric rows (and an Optuna study, for tune's pictures), never models or
tasks, so every layer above `io` may call them."""

from __future__ import annotations

from .png import save_png as save_png

__all__ = ["save_png"]
