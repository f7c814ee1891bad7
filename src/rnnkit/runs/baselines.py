"""The model beside the simple baselines a practitioner would try first, on the same split.

A run records what each split holds (`Splits.ids`) in RUN_DIR/split.json when it starts; when it
ends, the task's baselines (`HasBaselines`) are fitted on the training split and scored with the
model on the validation and test splits, printed as one table and kept in RUN_DIR/baselines.json.
`rnnkit eval RUN --baselines` scores them again on one split, after checking that the task's data
still gives exactly the recorded split.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import RunConfig
from ..data.batch import Splits, batches
from ..io.files import atomic_write
from ..tasks.base import HasBaselines, Predictor, ReadsRunFiles
from ..train import CheckpointError, evaluate
from ..train.stream import eval_batch_size

SPLIT_FILE, BASELINES_FILE, SPLIT_FORMAT = "split.json", "baselines.json", 1
Table = dict[str, dict[str, dict[str, float]]]        # split -> row ("model" or a baseline) -> metrics


def write_split(run_dir: str | Path, name: str, data: Splits) -> None:
    """RUN_DIR/split.json: the task's `Splits.ids` (nothing when the task records none)."""
    if data.ids is None:
        return
    text = json.dumps({"format": SPLIT_FORMAT, "task": name, "ids": data.ids}, ensure_ascii=False)
    atomic_write(Path(run_dir) / SPLIT_FILE, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def check_split(run_dir: str | Path, data: Splits) -> None:
    """A CheckpointError when the data no longer gives the split the run recorded (a changed file
    or seed would score the model and its baselines on examples it may have trained on)."""
    path = Path(run_dir) / SPLIT_FILE
    if not path.is_file() or data.ids is None:
        return
    recorded = json.loads(path.read_text(encoding="utf-8"))["ids"]
    now = json.loads(json.dumps(data.ids))                 # tuples and lists compare as in the file
    if recorded != now:
        changed = sorted(k for k in set(recorded) | set(now) if recorded.get(k) != now.get(k))
        raise CheckpointError(f"the task's data no longer gives the split {run_dir} was trained on ({SPLIT_FILE} "
                              f"differs in {', '.join(changed)}): its data file or seed changed; evaluate on the "
                              "original data, or train the run again")


def check_classes(run_dir: str | Path, meta: dict[str, Any], data: Splits) -> None:
    """A ValueError when the data's classes are not the ones the saved run's model outputs: class i
    of the model would be scored as another label (or, with a new label, a target out of range)."""
    now = (getattr(data, "meta", None) or {}).get("classes")
    if now is None or "classes" not in meta or list(now) == list(meta["classes"]):
        return
    new, gone = sorted(set(now) - set(meta["classes"])), sorted(set(meta["classes"]) - set(now))
    what = "; ".join(part for part in (f"new labels {new}" if new else "", f"no longer any {gone}" if gone else "")
                     if part) or "the same labels in another order"
    raise ValueError(f"the data's labels are not the ones {run_dir} was trained on ({what}; the run's classes: "
                     f"{list(meta['classes'])[:20]}); evaluate on data with the run's labels, or train a new run")


def compare(task: Any, model: nn.Module, data: Splits, cfg: RunConfig, splits: Sequence[str] = ("valid", "test"),
            *, baselines: bool = True, predictor: Predictor | None = None, measured: Table | None = None) -> Table:
    """{split: {"model": metrics, baseline: metrics, ...}} for each of `splits` the data has; only
    the model's row with `baselines=False` or where the task has none. With the run's `predictor`
    and a task whose predictions follow a validated choice (`ReadsRunFiles.run_metrics`, e.g. a
    text run that chose the n-grams or a blend), "model" scores those predictions and "network" the
    network alone. `measured`: the model's rows of a split measured already on this data
    (`MeasuredWhileChoosing`), taken as they are."""
    table: Table = {}
    for split in splits:
        part = getattr(data, split, None)
        if part is None:
            continue
        known = (measured or {}).get(split)
        if known:
            table[split] = dict(known)
        else:
            table[split] = {"model": evaluate(model, task, batches(part, eval_batch_size(task, cfg.train, part)))}
            chosen = (task.run_metrics(predictor, data, split)
                      if predictor is not None and isinstance(task, ReadsRunFiles) else None)
            if chosen is not None:
                table[split] = {"model": chosen, "network": table[split]["model"]}
    if baselines and isinstance(task, HasBaselines) and table:
        threads = torch.get_num_threads()
        try:
            rows = task.baselines(data, list(table))         # fitted once for all the splits
        finally:
            # numba-backed baselines (aeon, statsforecast) reset torch's thread count for the
            # whole process, and a different count changes float results in their last bits.
            torch.set_num_threads(threads)
        for split, row in rows.items():
            table[split].update(row)
    return table


def show(table: Table) -> str:
    """The table as aligned text, one block per split, the model's row first."""
    import pandas as pd

    blocks = []
    for split, rows in table.items():
        frame = pd.DataFrame.from_dict(rows, orient="index")
        blocks.append(f"{split}:\n{frame.to_string(float_format=lambda v: f'{v:.5g}')}")
    return "\n".join(blocks)


def report(run_dir: str | Path, task: Any, model: nn.Module, data: Splits, cfg: RunConfig, *,
           predictor: Predictor | None = None, measured: Table | None = None) -> Table:
    """At the end of training: the table printed and written to RUN_DIR/baselines.json (nothing
    for a task without baselines); `predictor` and `measured` as `compare` takes them."""
    if not isinstance(task, HasBaselines):
        return {}
    try:
        table = compare(task, model, data, cfg, predictor=predictor, measured=measured)
    except ImportError as error:                     # the run is saved; a missing extra must not fail it
        print(f"baselines skipped: {error}", flush=True)
        return {}
    except KeyboardInterrupt:                        # e.g. a time limit's SIGINT after training ended
        print(f"baselines interrupted; the run is saved: rnnkit eval {run_dir} --baselines scores them", flush=True)
        return {}
    print(f"== the model beside its baselines on the same splits ({Path(run_dir) / BASELINES_FILE})\n{show(table)}",
          flush=True)
    text = json.dumps(table, indent=1)
    atomic_write(Path(run_dir) / BASELINES_FILE, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
    return table
