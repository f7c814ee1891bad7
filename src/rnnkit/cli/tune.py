"""`rnnkit tune`: search hyperparameters with Optuna."""

from __future__ import annotations

import argparse
import json

from ..tune import tune as run_study

EXAMPLES = """examples:
  rnnkit tune configs/tune_esn_mackey_glass.toml                      # the space is the config's [tune.space]
  rnnkit tune configs/tune_esn_mackey_glass.toml --tune.sampler=gp --tune.trials=40 --workers=2
  rnnkit tune --resume runs/esn_mackey_glass_small-tune               # after a kill: finished trials are kept
  rnnkit tune CONFIG --storage=postgresql://user@host/db --tune.study=lm   # run on every machine of a cluster
  rnnkit train runs/esn_mackey_glass_small-tune/best.toml             # train the best configuration again
  optuna-dashboard runs/esn_mackey_glass_small-tune/study.journal     # browse the study

every task's keys, with their types, defaults and meanings: rnnkit train --help"""


def tune(args: argparse.Namespace, overrides: list[str]) -> int:
    flags = {"storage": args.storage, "workers": args.workers, "out_dir": args.out_dir}
    overrides = [f"--tune.{key}={json.dumps(value)}" for key, value in flags.items() if value is not None] + overrides
    summary = run_study(args.config, overrides, resume=args.resume)
    print(json.dumps(summary, indent=1))
    return 0


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    p = commands.add_parser("tune", help="search hyperparameters with Optuna", epilog=EXAMPLES,
                            description="Search the config's [tune.space]; --tune.key=value and "
                            "--section.key=value override the config.", **kind)
    p.add_argument("config", nargs="?", help="a TOML config file with a [tune] section")
    p.add_argument("--resume", metavar="DIR", help="continue the study in this tuning directory")
    p.add_argument("--storage", metavar="URL", help="a shared study: sqlite:///, postgresql://, mysql://, redis://")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes on this machine")
    p.add_argument("--out_dir", metavar="DIR", help="the tuning directory (default: the config's out_dir-tune)")


COMMANDS = {"tune": tune}
