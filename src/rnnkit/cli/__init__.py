"""The `rnnkit` command line: one short function per command, found through COMMANDS.

A flag with a dot in its name (--train.bptt=70) overrides the config; --seed and --out_dir set
the top-level keys; other flags belong to the command.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Sequence

from ..data.fetch import FetchError
from ..io.fields import ConfigError
from ..train import CheckpointError, Interrupted, NonFiniteError
from ..tune.worker import WorkersFailed
from . import classify, evaluate, export, forecast, generate, serve, similar, tag, train, transcribe, translate, tune
from ._args import split_overrides

# in --help order
MODULES = (train, evaluate, tune, generate, similar, classify, tag, forecast, translate, transcribe, export, serve)
COMMANDS: dict[str, Callable[[argparse.Namespace, list[str]], int]] = {
    name: command for module in MODULES for name, command in module.COMMANDS.items()}


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="rnnkit", description="Recurrent networks on PyTorch: train and "
                                   "evaluate from TOML configs.", allow_abbrev=False)
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    kind = dict(formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    for module in MODULES:
        module.add_parsers(commands, **kind)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    try:
        return COMMANDS[args.command](args, split_overrides(extra))
    except (ConfigError, CheckpointError, FetchError, FileNotFoundError, ValueError, TypeError) as error:
        print(f"rnnkit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (NonFiniteError, WorkersFailed) as error:
        print(f"rnnkit {args.command}: stopped: {error}", file=sys.stderr)
        return 1
    except Interrupted as error:
        print(f"rnnkit {args.command}: {error}", file=sys.stderr)
        return 130
    except BrokenPipeError:                         # `rnnkit ... | head` stopped reading: nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # so the exit's flush does not fail again
        return 141
    except OSError as error:                        # a full disk, a read-only or forbidden directory
        print(f"rnnkit {args.command}: error: {os_error(error)}", file=sys.stderr)
        return 2


ADVICE = {errno.ENOSPC: "free some space there or give another --out_dir; files written before are kept whole",
          errno.EROFS: "that file system is read-only: give a writable --out_dir",
          errno.EACCES: "no permission: give a directory you can write to (e.g. --out_dir=$HOME/runs/NAME)",
          errno.EPERM: "no permission: give a directory you can write to (e.g. --out_dir=$HOME/runs/NAME)"}


def os_error(error: OSError) -> str:
    """One line for an OSError: the path, the system's reason, and what to do."""
    where = f"{error.filename}: " if error.filename else ""
    reason = error.strerror or str(error)
    advice = ADVICE.get(error.errno or 0, "")
    return f"{where}{reason}" + (f"; {advice}" if advice else "")


if __name__ == "__main__":
    sys.exit(main())
