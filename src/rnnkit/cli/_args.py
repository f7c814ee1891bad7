"""What every command shares: config overrides among the command's own flags."""

from __future__ import annotations

from collections.abc import Sequence

from ..io.fields import ConfigError


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
