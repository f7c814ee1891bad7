"""What every endpoint works with (`Service`: the loaded run, the server's limits, and the batcher
whose thread runs the model), and what an endpoint is (`Endpoint`: its path, its handler, what
/metadata says of the run, its request body for /docs).

A handler takes the starlette Request and the Service and returns a JSON-able dict (a 200 reply),
a `Stream`, or raises RequestError; handlers never import fastapi, so neither does rnnkit.serve
until `app()` builds the application.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..runs import SavedRun
from .batcher import Batcher
from .limits import Limits


@dataclass(frozen=True)
class Service:
    saved: SavedRun
    limits: Limits
    batcher: Batcher

    @property
    def task(self) -> str:
        return self.saved.cfg.task.name

    async def batched(self, key: Hashable, fn: Callable[[list[Any]], Sequence[Any]], inputs: Sequence[Any]) -> list:
        """fn's results for `inputs`, run together with other requests' inputs of the same key."""
        return await asyncio.wrap_future(self.batcher.batch(key, fn, inputs))

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) on the model's thread, alone."""
        return await asyncio.wrap_future(self.batcher.call(fn, *args))


@dataclass(frozen=True)
class Stream:
    """A streamed 200 reply: one JSON object per line (NDJSON), sent as each is produced."""

    lines: Iterator[bytes]
    media_type: str = "application/x-ndjson"


@dataclass(frozen=True)
class Endpoint:
    path: str                                                  # "/classify"
    summary: str                                               # its one line in /docs
    handle: Callable[[Any, Service], Awaitable[dict[str, Any] | Stream]]
    facts: Callable[[SavedRun], dict[str, Any]]                # what /metadata says of a run of this task
    openapi: dict[str, Any]                                    # its OpenAPI requestBody, with an example
