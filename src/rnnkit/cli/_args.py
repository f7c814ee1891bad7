"""What every command shares: config overrides among the command's own flags, and the [task]
keys that a training command's --help lists."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence

from ..io.fields import ConfigError
from ..io.keys import keys
from ..tasks import TASKS


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


def no_overrides(command: str, overrides: list[str]) -> None:
    """Commands on a finished run take no config overrides."""
    if overrides:
        raise ConfigError(f"{command} takes no config overrides, got {' '.join(overrides)}")


def task_keys(*names: str) -> str:
    """The [task] keys of the tasks `names` (every task when empty) as help text: per task, each
    key's type, default and comment, read from the task's dataclass (rnnkit.io.keys). Comments
    sit in a column on a wide terminal and under their key on a narrow one."""
    width = max(shutil.get_terminal_size().columns - 2, 60)      # as argparse wraps its own help
    blocks = ["task keys, by task.name ([task] KEY = VALUE in a config, or --task.KEY=VALUE):"]
    for name in names or TASKS:
        rows = [(f"task.{k.name}: {k.type} = {k.default}", k.comment) for k in keys(TASKS[name])]
        column = min(max(len(left) for left, _ in rows) + 2, 52)
        beside = width - 4 - column >= 48                        # else each comment goes under its key
        blocks.append(f"  {name}:")
        for left, comment in rows:
            lines = textwrap.wrap(comment, width - 4 - column if beside else width - 8) or [""]
            if beside and len(left) < column:
                blocks.append(f"    {left:<{column}}{lines.pop(0)}".rstrip())
            else:
                blocks.append(f"    {left}")
            indent = " " * (4 + column if beside else 8)
            blocks.extend(indent + line for line in lines if line)
    return "\n".join(blocks)
