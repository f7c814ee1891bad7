"""The HTTP application of a trained run: its task's endpoint, GET /health, GET /metadata, the web
page at GET /, and the OpenAPI docs at /docs.

    api = rnnkit.serve.app("runs/imdb_lstm")                 # a FastAPI application
    uvicorn.run(api, host="127.0.0.1", port=8000)            # what `rnnkit serve RUN` does

Only the run's own endpoint exists; another task's endpoint is a 404 that names the run's task.
Every refusal is JSON {"error": ..., "fix": ...}, and no request can stop the server: a failing
predictor becomes a 422 or 500 reply and the model's thread goes on to the next request.
"""

# No `from __future__ import annotations` here: FastAPI reads the handlers' annotations at run
# time, and `Request` is imported inside `app()` so that importing rnnkit.serve needs no fastapi.

import importlib.util
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .. import __version__
from ..runs import load
from .batcher import Batcher
from .body_limit import BodyLimit
from .endpoints import ENDPOINTS, metadata
from .errors import RequestError, from_exception
from .limits import DEFAULT_LIMITS, Limits
from .page import page
from .service import Endpoint, Service, Stream

INSTALL = "rnnkit serve needs fastapi, uvicorn and python-multipart: pip install 'rnnkit[serve]'"


MODULES = {"fastapi": ("fastapi",), "uvicorn": ("uvicorn",), "python-multipart": ("python_multipart", "multipart")}


def require() -> None:
    """An ImportError that says what to install, before anything else is done."""
    missing = [name for name, modules in MODULES.items() if all(importlib.util.find_spec(m) is None for m in modules)]
    if missing:
        raise ImportError(f"{INSTALL} ({', '.join(missing)} not found)")


def app(run_dir: str | Path, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A FastAPI application serving the run in `run_dir` within `limits`. The model runs on one
    worker thread (see Batcher), which stops when the application shuts down."""
    require()
    from fastapi import FastAPI

    saved = load(run_dir, tasks=tuple(ENDPOINTS), command="rnnkit serve")
    endpoint = ENDPOINTS[saved.cfg.task.name]
    _ = saved.predictor                           # built now, so the first request does not wait for it
    service = Service(saved, limits, Batcher(wait_ms=limits.batch_wait_ms, max_batch=limits.max_batch))
    info = metadata(saved, run_dir, limits)

    @asynccontextmanager
    async def lifespan(_: Any):
        yield
        service.batcher.close()

    api = FastAPI(title=f"rnnkit: {info['run']} ({info['task']})", version=__version__, lifespan=lifespan,
                  description=f"A trained rnnkit {info['task']} run. POST {endpoint.path} does the work; "
                  "GET /metadata says what it reads; GET / is a web page for it.")
    api.state.service = service
    api.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    add_routes(api, service, endpoint, info)
    return api


def add_routes(api: Any, service: Service, endpoint: Endpoint, info: dict[str, Any]) -> None:
    from fastapi import Request
    from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
    from starlette.exceptions import HTTPException

    def refuse(error: RequestError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    async def work(request: Request):
        try:
            reply = await endpoint.handle(request, service)
        except Exception as error:                 # a refusal, or the predictor's failure: a reply either way
            return refuse(from_exception(error))
        if isinstance(reply, Stream):
            return StreamingResponse(reply.lines, media_type=reply.media_type)
        return JSONResponse(reply)

    api.add_api_route(endpoint.path, work, methods=["POST"], summary=endpoint.summary,
                      openapi_extra={"requestBody": endpoint.openapi})

    @api.get("/health", summary="Whether the server answers, and how its requests were batched")
    async def health() -> dict[str, Any]:
        sizes = service.batcher.sizes
        return {"status": "ok", "task": info["task"],
                "batches": {"calls": sum(sizes.values()), "largest": service.batcher.largest_batch}}

    @api.get("/metadata", summary="The run's task, what its endpoint reads and gives, its model config, the limits")
    async def get_metadata() -> dict[str, Any]:
        return info

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page(info["run"], info["task"]))

    @api.exception_handler(HTTPException)
    async def not_here(request: Request, error: HTTPException) -> JSONResponse:
        return refuse(http_error(request.method, request.url.path, error.status_code, str(error.detail),
                                 info["task"], endpoint.path))


def http_error(method: str, path: str, status: int, detail: str, task: str, mine: str) -> RequestError:
    """A 404 that says what this server answers (and, for another task's endpoint, that the run
    is of another task), or a 405 that names the method to use."""
    answers = f"GET /, /health, /metadata, /docs and POST {mine}"
    needs = [name for name, e in ENDPOINTS.items() if e.path == path]
    if status == 404 and needs:
        return RequestError(404, f"{path} is not served here: this server runs a {task!r} run, which answers POST "
                            f"{mine}", f"send the request to POST {mine}, or serve a {' or '.join(needs)} run for "
                            f"{path}")
    if status == 404:
        return RequestError(404, f"there is no {method} {path} here", f"this server answers {answers}")
    if status == 405:
        return RequestError(405, f"{path} does not take {method}", f"this server answers {answers}")
    return RequestError(status, detail, f"this server answers {answers}")
