"""The documented keys of a settings dataclass: each field's name, type, default and comment.

A config dataclass documents its fields with trailing comments, which are the one source of the
`--help` listings:

    path: str = "shakespeare"       # "shakespeare", "ptb", a directory of train/valid/test files,
                                    # or one file (a comment-only line under the comment continues it)

A field without a trailing comment takes the comment block right above it, if any. Comments are
read from the class's source with `tokenize`, so they need the .py files (an installed wheel has
them); without the source every comment is "".
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import json
import textwrap
import tokenize
import typing
from typing import Any, NamedTuple

REQUIRED = "(required)"     # shown as the default of a field that has none


class Key(NamedTuple):
    name: str
    type: str               # "str", "int", "float", "bool", "[str, ...]" (a TOML array), "[float, float]"
    default: str            # as it would be written in TOML (JSON values are valid TOML), or REQUIRED
    comment: str


def keys(cls: type) -> list[Key]:
    """The fields of dataclass `cls` (inherited ones first, as `dataclasses.fields` orders them)."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):              # a subclass's comment wins over its base's
        if "__dataclass_fields__" in vars(klass):
            comments.update(source_comments(klass))
    hints = typing.get_type_hints(cls)
    return [Key(f.name, type_name(hints[f.name]), _default(f), comments.get(f.name, ""))
            for f in dataclasses.fields(cls) if f.init]


@functools.cache
def source_comments(cls: type) -> dict[str, str]:
    """{field name: comment} from the body of class `cls` (its own fields only). Cached: reading
    a class's source parses its whole module."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments: dict[str, str] = {}
    line: list[tokenize.TokenInfo] = []      # the code tokens of the logical line so far
    trailing: list[str] = []                 # its comments
    lead: list[str] = []                     # a comment block above the next field
    last, column, depth = "", -1, 0          # the field a comment-only line at `column` continues
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        kind, text = token.type, token.string
        if kind == tokenize.INDENT:
            depth += 1
        elif kind == tokenize.DEDENT:
            depth -= 1
        elif kind == tokenize.COMMENT and line:
            trailing.append(_text(text))
            column = token.start[1] if len(trailing) == 1 else column
        elif kind == tokenize.COMMENT:                                   # a comment-only line
            if last and token.start[1] == column:
                comments[last] += " " + _text(text)
            else:
                last, lead = "", [*lead, _text(text)]
        elif kind == tokenize.NL and not line and not token.line.strip():    # a blank line ends both
            last, lead = "", []
        elif kind == tokenize.NEWLINE:
            field = depth == 1 and len(line) > 1 and line[0].type == tokenize.NAME and line[1].string == ":"
            last = line[0].string if field and trailing else ""
            if field and (trailing or lead):
                comments[line[0].string] = " ".join(trailing or lead)
            line, trailing, lead = [], [], []
        elif kind not in (tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
            line.append(token)
    return comments


def _text(comment: str) -> str:
    return comment.lstrip("#").strip()


def type_name(kind: Any) -> str:
    """A field's type as its TOML value reads: str, int, float, bool, [str, ...], [float, float]."""
    if typing.get_origin(kind) is tuple:
        items = typing.get_args(kind)
        if len(items) == 2 and items[1] is Ellipsis:
            return f"[{type_name(items[0])}, ...]"
        return "[" + ", ".join(type_name(k) for k in items) + "]"
    return getattr(kind, "__name__", str(kind))


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return REQUIRED
    if isinstance(value, tuple):
        value = list(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return repr(value)
