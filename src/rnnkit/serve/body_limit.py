"""Refusing request bodies over `Limits.max_body_bytes` with 413, before they are read into memory.

A plain ASGI middleware (no starlette import, so rnnkit.serve stays importable without fastapi):
a declared Content-Length over the limit is refused at once; a chunked body is counted as it
arrives, and the read that crosses the limit raises a RequestError, which the endpoint turns
into the same 413 reply.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import RequestError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def too_large(limit: int, size: int | None = None) -> RequestError:
    told = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return RequestError(413, f"the request body is {told}; this server takes at most {limit:,}",
                        "send less per request (fewer texts, a shorter file), or start the server with a larger "
                        "--max-body-bytes")


class BodyLimit:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await reply(send, too_large(self.max_bytes, int(declared)))
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise too_large(self.max_bytes)
            return message

        await self.app(scope, counted, send)


async def reply(send: Send, error: RequestError) -> None:
    body = json.dumps(error.body()).encode()
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
