"""A trained run over HTTP: its task's endpoint (POST /generate, /classify, /forecast, /transcribe or
/translate), GET /health and /metadata, OpenAPI docs at /docs, and a web page at /.

    api = rnnkit.serve.app("runs/imdb_lstm", limits=Limits(max_texts=16))   # a FastAPI application
    rnnkit.serve.serve("runs/imdb_lstm", port=8000)                          # uvicorn; `rnnkit serve RUN`

fastapi and uvicorn (the `serve` extra) are imported only when an application is built, so this
package imports without them.
"""

from __future__ import annotations

from .app import app as app
from .batcher import Batcher as Batcher
from .endpoints import ENDPOINTS as ENDPOINTS
from .errors import RequestError as RequestError
from .limits import Limits as Limits
from .server import serve as serve

__all__ = ["ENDPOINTS", "Batcher", "Limits", "RequestError", "app", "serve"]
