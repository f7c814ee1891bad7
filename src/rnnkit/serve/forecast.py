"""POST /forecast: a forecasting run's next `horizon` points of each series, with its central interval.

    {"records": [{"series_id": "s0", "timestamp": "2020-01-01", "value": 1.5}, ...], "history": true}
    curl -F file=@history.csv -F history=true http://127.0.0.1:8000/forecast
    -> {"horizon": 6, "level": 0.8, "forecast": [{"series_id": "s0", "timestamp": "...", "forecast": 1.7,
        "lower_80": 1.2, "upper_80": 2.2}, ...], "history": [{"series_id": "s0", "timestamp": [...], "value": [...]}]}

The history is a long table with the run's columns (GET /metadata names them), as JSON records or
an uploaded CSV; "future" (records, or a second file) gives known-future covariates over the
horizon. The forecast rows are those of the run's predictor (`saved.predict`), timestamps in ISO
8601; "history": true adds each series as read, for plotting beside the forecast.
"""

from __future__ import annotations

import io
import math
from datetime import date
from typing import Any

import numpy as np

from ..runs import SavedRun
from .errors import RequestError
from .limits import Limits
from .parse import Fields, kind, request_json
from .service import Endpoint, Service
from .uploads import Upload, is_form, one_file, read_form

EXAMPLE = '{"records": [{"series_id": "s0", "timestamp": "2020-01-01", "value": 1.5}], "history": false}'
CURL = "curl -F file=@history.csv http://127.0.0.1:8000/forecast"


async def handle(request: Any, service: Service) -> dict[str, Any]:
    if is_form(request):
        fields, files = await read_form(request, CURL)
        f = Fields(fields, known=("history",), example=CURL)
        table = read_csv(one_file(files, "file", CURL))
        future = read_csv(files["future"]) if "future" in files else None
    else:
        f = Fields(await request_json(request, EXAMPLE), known=("records", "future", "history"), example=EXAMPLE)
        table = records(f, "records", service.limits)
        future = records(f, "future", service.limits) if f.has("future") else None
    history = f.boolean("history", False)
    check_table(table, service.saved.task, service.limits)
    panel, frame = await service.call(forecast, service.saved, table, future)
    task = service.saved.task
    reply = {"horizon": task.horizon, "level": task.level,
             "forecast": [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]}
    if history:
        reply["history"] = [{"series_id": name, "timestamp": [plain(t) for t in panel.times[i]],
                             "value": [plain(v) for v in panel.values[i]]} for i, name in enumerate(panel.ids)]
    return reply


def forecast(saved: SavedRun, table: Any, future: Any) -> tuple[Any, Any]:
    """(the checked panel, the forecast table): the predictor's `predict`, with the panel kept for the history."""
    predictor = saved.predictor
    panel = predictor.panel(table)
    return panel, predictor.table(panel, future=future, source=table)


def records(f: Fields, name: str, limits: Limits) -> Any:
    import pandas as pd

    rows = f.body.get(name)
    if not isinstance(rows, list) or not rows:
        raise RequestError(422, f"{name!r} must be a non-empty list of row objects, got {kind(rows)}",
                           f"send one object per row, e.g. {EXAMPLE}")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(422, f"{name}[{i}] must be an object (one row: column -> value), got {kind(row)}",
                               f"send e.g. {EXAMPLE}")
    return pd.DataFrame.from_records(rows)


def read_csv(upload: Upload) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(upload.data))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise RequestError(422, f"{upload.filename or 'the upload'!r} cannot be read as CSV ({error})",
                           "upload a CSV with a header row and the run's columns (GET /metadata)") from None


def check_table(table: Any, task: Any, limits: Limits) -> None:
    """Series count and lengths within the server's limits; no missing values where the run allows none."""
    id_col, value_col = task.id_column, task.value_column
    ids = table[id_col].astype(str) if id_col and id_col in table else np.full(len(table), "series")
    lengths = table.groupby(ids, sort=False).size()
    if len(lengths) > limits.max_texts:
        raise RequestError(422, f"the history has {len(lengths)} series; this server forecasts at most "
                           f"{limits.max_texts} per request", "split the series over several requests")
    if lengths.max() > limits.max_series_length:
        raise RequestError(422, f"series {lengths.idxmax()!r} has {lengths.max():,} points; this server reads at "
                           f"most {limits.max_series_length:,}", "send only each series' most recent points")
    if value_col in table and task.missing == "error":
        missing = np.flatnonzero(np.asarray(table[value_col].isna()))
        if len(missing):
            row = int(missing[0])
            raise RequestError(422, f"series {np.asarray(ids)[row]!r} has a missing value (NaN or null) in "
                               f"{value_col!r} at row {row}", "fill or drop the missing points before forecasting; "
                               "this run was trained with task.missing = 'error'")


def plain(value: Any) -> Any:
    """A table cell as JSON: timestamps in ISO 8601, numpy scalars as Python's, NaN as null."""
    if isinstance(value, date):                       # pandas Timestamp and datetime are dates too
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


def facts(saved: SavedRun) -> dict[str, Any]:
    task, meta = saved.task, saved.meta
    return {"horizon": task.horizon, "level": task.level, "freq": meta["freq"], "input_size": task.input_size,
            "forecaster": task.forecaster, "series_trained": len(meta.get("series_ids", [])),
            "columns": {"id": task.id_column, "time": task.time_column, "value": task.value_column},
            "covariates": list(meta.get("covariates", [])), "future_covariates": list(task.future_covariates)}


ENDPOINT = Endpoint(
    path="/forecast", summary="Forecasts with intervals for series given as JSON records or an uploaded CSV",
    handle=handle, facts=facts,
    openapi={"required": True, "content": {
        "application/json": {"schema": {"type": "object", "properties": {
            "records": {"type": "array", "items": {"type": "object"}},
            "future": {"type": "array", "items": {"type": "object"}},
            "history": {"type": "boolean", "default": False}}},
            "example": {"records": [{"series_id": "s0", "timestamp": f"2020-{m:02d}-01", "value": v}
                                    for m, v in zip(range(1, 13), (1.0, 1.4, 1.2, 1.8, 1.6, 2.0, 1.9, 2.3, 2.1,
                                                                   2.6, 2.4, 2.8))]}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "the history as CSV"},
            "future": {"type": "string", "format": "binary", "description": "known-future covariates as CSV"},
            "history": {"type": "boolean", "default": False}}}}}})
