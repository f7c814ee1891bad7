"""A forecast as a PNG: the end of a series' history, the forecast after it and its interval.

    plot_forecast(times, history, future_times, point, "s0.png", lower=lower, upper=upper, title="s0")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .png import save_png


def plot_forecast(times: Any, history: Any, future_times: Any, point: Any, path: str | Path, *,
                  lower: Any = None, upper: Any = None, title: str = "", show: int = 120) -> Path:
    """The last `show` points of `history` (at `times`), the forecast `point` at `future_times`
    and, when given, the interval between `lower` and `upper`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 3.5))
    axes.plot(times[-show:], history[-show:], color="black", lw=1.2, label="history")
    axes.plot(future_times, point, color="tab:blue", lw=1.5, label="forecast")
    if lower is not None and upper is not None:
        axes.fill_between(future_times, lower, upper, color="tab:blue", alpha=0.25, label="interval")
    axes.set_title(title)
    axes.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    return save_png(figure, path, dpi=110)
