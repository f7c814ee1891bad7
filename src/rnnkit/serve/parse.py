"""Reading a JSON request body field by field, each refusal naming the field, what it holds, and
what it should hold. Fields are read by hand rather than by a pydantic model so that every message
is in rnnkit's words (and says the server's limit when one is the reason).

    body = Fields(read_json(raw), known=("texts",), example='{"texts": ["a fine film"]}')
    texts = body.texts("texts", limits)
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from typing import Any

from .errors import RequestError
from .limits import Limits


def read_json(raw: bytes, example: str) -> Any:
    """The parsed body; empty or malformed JSON is a 400 that shows a valid body."""
    if not raw.strip():
        raise RequestError(400, "the request has no body", f"send a JSON object, e.g. {example}")
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise RequestError(400, "the body is not UTF-8 text", f"send a JSON object, e.g. {example}") from None
    except json.JSONDecodeError as error:
        raise RequestError(400, f"the body is not valid JSON ({error.msg} at line {error.lineno} column "
                           f"{error.colno})", f"send a JSON object, e.g. {example}") from None


def kind(value: Any) -> str:
    """A JSON value's type in JSON's words (a number itself), for messages."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
             dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


class Fields:
    """A JSON object's fields, read with their types and ranges checked. An unknown field is
    refused (a misspelt "temprature" would otherwise be ignored silently), naming the nearest."""

    def __init__(self, body: Any, *, known: Sequence[str], example: str) -> None:
        if not isinstance(body, dict):
            raise RequestError(422, f"the body must be a JSON object, got {kind(body)}", f"send e.g. {example}")
        for name in body:
            if name not in known:
                near = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                raise RequestError(422, f"unknown field {name!r}", f"{hint}this endpoint reads "
                                   f"{', '.join(map(repr, known))}, e.g. {example}")
        self.body, self.example = body, example

    def has(self, name: str) -> bool:
        return self.body.get(name) is not None

    def boolean(self, name: str, default: bool) -> bool:
        value = self.body.get(name, default)
        if not isinstance(value, bool):
            raise RequestError(422, f"{name!r} must be true or false, got {kind(value)}")
        return value

    def optional_integer(self, name: str, low: int, high: int) -> int | None:
        """An integer in [low, high], or None where the field is absent or null."""
        return None if self.body.get(name) is None else self.integer(name, low, low, high)

    def integer(self, name: str, default: int, low: int, high: int, why: str = "") -> int:
        """An integer in [low, high]; `why` says where `high` comes from (a server limit)."""
        value = self.body.get(name, default)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise RequestError(422, f"{name!r} must be a whole number, got {kind(value)}")
        if not low <= value <= high:
            raise RequestError(422, f"{name!r} must be from {low} to {high}{why}, got {value}",
                               f"ask for {name!r} between {low} and {high}")
        return value

    def number(self, name: str, default: float, low: float, high: float, *, open_low: bool = False) -> float:
        """A finite number in [low, high] (or (low, high] with `open_low`)."""
        value = self.body.get(name, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise RequestError(422, f"{name!r} must be a finite number, got {kind(value)}")
        if not (low < value if open_low else low <= value) or value > high:
            interval = f"{'(' if open_low else '['}{low}, {high}]"
            raise RequestError(422, f"{name!r} must be in {interval}, got {value}")
        return float(value)

    def text(self, name: str, default: str, limits: Limits) -> str:
        value = self.body.get(name, default)
        if not isinstance(value, str):
            raise RequestError(422, f"{name!r} must be a string, got {kind(value)}", f"send e.g. {self.example}")
        return check_length(name, value, limits)

    def texts(self, name: str, limits: Limits) -> list[str]:
        """A non-empty list of non-blank strings, within the server's count and length limits."""
        values = self.items(name, limits)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise RequestError(422, f"{name}[{i}] must be a string, got {kind(value)}",
                                   f"send {name!r} as a list of strings, e.g. {self.example}")
            if not value.strip():
                raise RequestError(422, f"{name}[{i}] is empty", "leave out empty texts; each needs at least "
                                   "one word")
            check_length(f"{name}[{i}]", value, limits)
        return values

    def items(self, name: str, limits: Limits) -> list[Any]:
        """A non-empty list of at most `limits.max_texts` entries."""
        if name not in self.body:
            raise RequestError(422, f"the field {name!r} is missing", f"send e.g. {self.example}")
        values = self.body[name]
        if not isinstance(values, list):
            raise RequestError(422, f"{name!r} must be a list, got {kind(values)}", f"send e.g. {self.example}")
        if not values:
            raise RequestError(422, f"{name!r} is an empty list", f"send at least one, e.g. {self.example}")
        if len(values) > limits.max_texts:
            raise RequestError(422, f"{name!r} has {len(values)} entries; this server takes at most "
                               f"{limits.max_texts} per request", "split them over several requests")
        return values


def check_length(name: str, value: str, limits: Limits) -> str:
    if len(value) > limits.max_text_chars:
        raise RequestError(422, f"{name} has {len(value):,} characters; this server takes at most "
                           f"{limits.max_text_chars:,}", "shorten it, or split it over several requests")
    return value


async def request_json(request: Any, example: str) -> Any:
    """The JSON body of a starlette Request (refused as in `read_json`)."""
    return read_json(await request.body(), example)
