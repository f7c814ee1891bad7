"""The `rnnkit` command line: one short function per command, found through COMMANDS.

A flag with a dot in its name (--train.bptt=70) overrides the config; --seed and --out_dir set
the top-level keys; other flags belong to the command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from ..io.fields import ConfigError
from ..runs.configs import load_config
from ..train.checkpoint import CheckpointError
from . import classify as classify_cli
from . import forecast as forecast_cli
from . import language as lm_cli
from . import transcribe as speech_cli
from . import translate as translate_cli

EXAMPLES = {
    "train": """examples:
  rnnkit train configs/adding_lstm.toml
  rnnkit train configs/adding_lstm.toml --train.iterations=2000 --model.hidden_size=64 --optim.lr=3e-3
  rnnkit train --resume runs/adding_lstm              # continue exactly where the last checkpoint left off
  rnnkit train runs/adding_lstm/config.toml           # replay a run (into runs/adding_lstm-2)
  torchrun --standalone --nproc_per_node=2 -m rnnkit train configs/adding_lstm.toml   # data parallel""",
    "eval": """examples:
  rnnkit eval runs/adding_lstm                        # validation metrics of the saved model
  rnnkit eval runs/adding_lstm --split=test""",
    "tune": """examples:
  rnnkit tune configs/tune_esn_mackey_glass.toml                      # the space is the config's [tune.space]
  rnnkit tune configs/tune_esn_mackey_glass.toml --tune.sampler=gp --tune.trials=40 --workers=2
  rnnkit tune --resume runs/esn_mackey_glass_small-tune               # after a kill: finished trials are kept
  rnnkit tune CONFIG --storage=postgresql://user@host/db --tune.study=lm   # run on every machine of a cluster
  rnnkit train runs/esn_mackey_glass_small-tune/best.toml             # train the best configuration again
  optuna-dashboard runs/esn_mackey_glass_small-tune/study.journal     # browse the study""",
}


def train(args: argparse.Namespace, overrides: list[str]) -> int:
    from ..runs import run

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


def evaluate(args: argparse.Namespace, overrides: list[str]) -> int:
    from ..runs import evaluate_run

    if overrides:
        raise ConfigError(f"eval takes no config overrides, got {' '.join(overrides)}")
    metrics = evaluate_run(args.run_dir, args.split)
    print(json.dumps({"split": args.split, **metrics}))
    return 0


def tune(args: argparse.Namespace, overrides: list[str]) -> int:
    from ..tune.search import tune as run_study

    flags = {"storage": args.storage, "workers": args.workers, "out_dir": args.out_dir}
    overrides = [f"--tune.{key}={json.dumps(value)}" for key, value in flags.items() if value is not None] + overrides
    summary = run_study(args.config, overrides, resume=args.resume)
    print(json.dumps(summary, indent=1))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, list[str]], int]] = {
    "train": train,
    "eval": evaluate,
    "tune": tune,
    **lm_cli.COMMANDS,                       # generate, similar
    **classify_cli.COMMANDS,                 # classify train|eval|predict
    "forecast": forecast_cli.forecast,       # train, predict, backtest
    **translate_cli.COMMANDS,                # translate
    **speech_cli.COMMANDS,                   # transcribe
}


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="rnnkit", description="Recurrent networks on PyTorch: train and "
                                   "evaluate from TOML configs.", allow_abbrev=False)
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    kind = dict(formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    train = commands.add_parser("train", help="train from a config file, or resume a run", epilog=EXAMPLES["train"],
                                description="Train a model; any --section.key=value overrides the config.", **kind)
    train.add_argument("config", nargs="?", help="a TOML config file (see configs/)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last checkpoint")
    train.add_argument("--seed", type=int, help="override the config's seed")
    train.add_argument("--out_dir", help="override the config's out_dir (the run directory)")
    evaluate = commands.add_parser("eval", help="evaluate a saved run", epilog=EXAMPLES["eval"],
                                   description="Print a saved run's metrics on one split as JSON.", **kind)
    evaluate.add_argument("run_dir", help="a run directory written by rnnkit train")
    evaluate.add_argument("--split", default="valid", choices=["valid", "test"])
    tune = commands.add_parser("tune", help="search hyperparameters with Optuna", epilog=EXAMPLES["tune"],
                               description="Search the config's [tune.space]; --tune.key=value and "
                               "--section.key=value override the config.", **kind)
    tune.add_argument("config", nargs="?", help="a TOML config file with a [tune] section")
    tune.add_argument("--resume", metavar="DIR", help="continue the study in this tuning directory")
    tune.add_argument("--storage", metavar="URL", help="a shared study: sqlite:///, postgresql://, mysql://, redis://")
    tune.add_argument("--workers", type=int, metavar="N", help="worker processes on this machine")
    tune.add_argument("--out_dir", metavar="DIR", help="the tuning directory (default: the config's out_dir-tune)")
    lm_cli.add_parsers(commands, **kind)
    classify_cli.add_parsers(commands, **kind)
    forecast_cli.add_parser(commands, **kind)
    translate_cli.add_parser(commands, **kind)
    speech_cli.add_parser(commands, **kind)
    return main


def split_overrides(extra: Sequence[str]) -> list[str]:
    """Unknown flags must be --section.key=value (or --section.key value)."""
    overrides, rest = [], list(extra)
    while rest:
        flag = rest.pop(0)
        if not flag.startswith("--") or "." not in flag.split("=")[0]:
            raise ConfigError(f"unrecognised argument {flag!r}; config overrides look like --train.bptt=70")
        if "=" not in flag:
            if not rest or rest[0].startswith("--"):
                raise ConfigError(f"override {flag!r} needs a value: {flag}=VALUE")
            flag = f"{flag}={rest.pop(0)}"
        overrides.append(flag)
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    from ..data.fetch import FetchError
    from ..train import Interrupted, NonFiniteError

    args, extra = parser().parse_known_args(argv)
    try:
        return COMMANDS[args.command](args, split_overrides(extra))
    except (ConfigError, CheckpointError, FetchError, FileNotFoundError, ValueError, TypeError) as error:
        print(f"rnnkit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except NonFiniteError as error:
        print(f"rnnkit {args.command}: stopped: {error}", file=sys.stderr)
        return 1
    except Interrupted as error:
        print(f"rnnkit {args.command}: {error}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
