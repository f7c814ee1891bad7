"""`rnnkit eval`: a saved run's metrics on one split, by its task's own evaluation."""

from __future__ import annotations

import argparse
import json

from ..runs import evaluate_run
from ._args import no_overrides

EXAMPLES = """examples:
  rnnkit eval runs/adding_lstm                        # validation metrics of the saved model
  rnnkit eval runs/adding_lstm --split=test"""


def evaluate(args: argparse.Namespace, overrides: list[str]) -> int:
    no_overrides("eval", overrides)
    metrics = evaluate_run(args.run_dir, args.split)
    print(json.dumps({"split": args.split, **metrics}))
    return 0


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    p = commands.add_parser("eval", help="evaluate a saved run", epilog=EXAMPLES,
                            description="Print a saved run's metrics on one split as JSON.", **kind)
    p.add_argument("run_dir", help="a run directory written by rnnkit train")
    p.add_argument("--split", default="valid", choices=["valid", "test"])


COMMANDS = {"eval": evaluate}
