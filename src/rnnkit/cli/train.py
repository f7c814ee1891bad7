"""`rnnkit train`: train from a config file, or resume a run."""

from __future__ import annotations

import argparse

from ..io.fields import ConfigError
from ..runs import load_config, run
from ._args import task_keys

EXAMPLES = """examples:
  rnnkit train configs/adding_lstm.toml
  rnnkit train configs/adding_lstm.toml --train.iterations=2000 --model.hidden_size=64 --optim.lr=3e-3
  rnnkit train --resume runs/adding_lstm              # continue exactly where the last checkpoint left off
  rnnkit train runs/adding_lstm/config.toml           # replay a run (into runs/adding_lstm-2)
  torchrun --standalone --nproc_per_node=2 -m rnnkit train configs/adding_lstm.toml   # data parallel

your own data (any key below can be set the same way):
  rnnkit train configs/lm_word.toml --task.path=my_corpus/          # train/valid/test files, or any text files
  rnnkit train configs/shakespeare_char.toml --task.path=book.txt   # one file: its last lines are valid and test
  rnnkit train configs/esn_series.toml --task.series=load.csv --task.column=mw   # next-step prediction
  rnnkit eval runs/lm_word --split=test --baselines                  # beside a Kneser-Ney n-gram"""


def train(args: argparse.Namespace, overrides: list[str]) -> int:
    top = [f"--{key}={getattr(args, key)}" for key in ("seed", "out_dir") if getattr(args, key) is not None]
    if args.resume is not None:
        if args.config is not None:
            raise ConfigError("give either CONFIG or --resume RUN_DIR, not both (a run resumes with its own config)")
        run(resume=args.resume, overrides=top + overrides)
    elif args.config is None:
        raise ConfigError("train needs a CONFIG file or --resume RUN_DIR; see rnnkit train --help")
    else:
        run(load_config(args.config, top + overrides))
    return 0


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    p = commands.add_parser("train", help="train from a config file, or resume a run",
                            epilog=f"{EXAMPLES}\n\n{task_keys()}",
                            description="Train a model; any --section.key=value overrides the config.", **kind)
    add_arguments(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of `rnnkit train`, shared by `rnnkit classify train` and `rnnkit forecast train`."""
    p.add_argument("config", nargs="?", help="a TOML config file (see configs/)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last checkpoint")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--out_dir", help="override the config's out_dir (the run directory)")


COMMANDS = {"train": train}
