"""`rnnkit eval`: a saved run's metrics on one split, by its task's own evaluation."""

from __future__ import annotations

import argparse
import json
import sys

from ..runs import evaluate_run
from ..runs.baselines import show
from ._args import no_overrides

EXAMPLES = """examples:
  rnnkit eval runs/adding_lstm                        # validation metrics of the saved model
  rnnkit eval runs/adding_lstm --split=test
  rnnkit eval runs/imdb_bilstm --split=test --baselines   # + two n-gram regressions, same split"""


def evaluate(args: argparse.Namespace, overrides: list[str]) -> int:
    no_overrides("eval", overrides)
    if not args.baselines:
        print(json.dumps({"split": args.split, **evaluate_run(args.run_dir, args.split)}))
        return 0
    rows = evaluate_run(args.run_dir, args.split, baselines=True)
    print(show({args.split: rows}), file=sys.stderr, flush=True)           # for people; stdout stays one JSON line
    model = rows.pop("model")
    print(json.dumps({"split": args.split, **model, "baselines": rows}))
    return 0


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    p = commands.add_parser("eval", help="evaluate a saved run", epilog=EXAMPLES,
                            description="Print a saved run's metrics on one split as JSON (with --baselines, "
                                        "beside its task's baselines on the same split).", **kind)
    p.add_argument("run_dir", help="a run directory written by rnnkit train")
    p.add_argument("--split", default="valid", choices=["valid", "test"])
    p.add_argument("--baselines", action="store_true",
                   help="also fit the task's simple baselines on the training split and score them on this split "
                        "(the one recorded in RUN_DIR/split.json)")


COMMANDS = {"eval": evaluate}
