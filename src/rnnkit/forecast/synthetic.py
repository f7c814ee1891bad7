"""A small generated panel in long format: level + trend + yearly season + noise, monthly."""

from __future__ import annotations

import numpy as np


def synthetic_panel(series: int = 8, length: int = 96, *, season: int = 12, noise: float = 0.1,
                    seed: int = 0, start: str = "2000-01-01", freq: str = "MS"):
    """A DataFrame (series_id, timestamp, value) of `series` positive seasonal series; lengths vary
    from length // 2 to length so short series are exercised too."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    parts = []
    for i in range(series):
        n = int(rng.integers(length // 2, length + 1)) if i else length
        t = np.arange(n)
        level, trend, amp = rng.uniform(50, 500), rng.uniform(-0.002, 0.01), rng.uniform(0.05, 0.3)
        value = level * (1 + trend * t) * (1 + amp * np.sin(2 * np.pi * t / season + rng.uniform(0, 6.3)))
        value *= 1 + noise * rng.standard_normal(n) * amp
        parts.append(pd.DataFrame({"series_id": f"s{i}", "timestamp": pd.date_range(start, periods=n, freq=freq),
                                   "value": value}))
    return pd.concat(parts, ignore_index=True)
