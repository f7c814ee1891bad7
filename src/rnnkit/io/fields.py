"""Checking plain values (from TOML or the command line) against the fields of a dataclass."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override is wrong; the message says what and how to fix it."""


def check_choice(where: str, value: str, choices: Sequence[str]) -> None:
    """A ConfigError naming the nearest of `choices` when `value` is not one of them."""
    if value not in choices:
        near = difflib.get_close_matches(value, list(choices), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ConfigError(f"{where} = {value!r} is not known; {hint}choose one of {sorted(choices)}")


def lookup(where: str, key: str, registry: Mapping[str, T]) -> T:
    """registry[key]: the one way a name from a config or the command line becomes an object.
    An unknown key is a ConfigError naming `where` (e.g. "model.cell") and the nearest valid key."""
    check_choice(where, key, list(registry))
    return registry[key]


def unknown(key: str, names: Sequence[str], section: str) -> None:
    if key not in names:
        near = difflib.get_close_matches(key, list(names), n=1)
        prefix = f"{section}." if section else ""
        hint = f"did you mean {prefix}{near[0]}? " if near else ""
        raise ConfigError(f"unknown key {prefix}{key}; {hint}valid keys: {', '.join(names)}")


def resolve(cls: type, values: Mapping[str, Any], section: str, skip: Sequence[str] = ()) -> dict[str, Any]:
    """`values` checked against the fields of dataclass `cls` and coerced; defaults filled in."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    for key in values:
        unknown(key, names, section)
    resolved = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if f.name in values:
            resolved[f.name] = typed(f"{section}.{f.name}".lstrip("."), values[f.name], hints[f.name])
        elif f.default is not dataclasses.MISSING:
            resolved[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            resolved[f.name] = f.default_factory()
        else:
            raise ConfigError(f"missing key {section}.{f.name} ({_type_name(hints[f.name])})")
    return resolved


def typed(key: str, value: Any, kind: Any) -> Any:
    """`value` as `kind` (int, float, bool, str, tuple[...] or a union of them, e.g. `bool | str` for
    a switch that also takes "auto"), or a ConfigError naming the key."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        for option in typing.get_args(kind):
            try:
                return typed(key, value, option)
            except ConfigError:
                continue
    elif typing.get_origin(kind) is tuple:
        items = typing.get_args(kind)
        if len(items) == 2 and items[1] is Ellipsis and isinstance(value, (list, tuple)):    # tuple[X, ...]
            return tuple(typed(key, v, items[0]) for v in value)
        if isinstance(value, (list, tuple)) and len(value) == len(items):
            return tuple(typed(key, v, k) for v, k in zip(value, items))
    elif kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    elif kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif kind in (bool, str) and isinstance(value, kind):
        return value
    raise ConfigError(f"{key} expects {_type_name(kind)}, got {value!r} ({type(value).__name__})")


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(k) for k in typing.get_args(kind))
    if typing.get_origin(kind) is tuple:
        items = typing.get_args(kind)
        if len(items) == 2 and items[1] is Ellipsis:
            return f"an array of {_type_name(items[0])}s"
        return "an array of " + ", ".join(_type_name(k) for k in items)
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(kind, str(kind))
