"""Serving a run over HTTP with uvicorn: what `rnnkit serve RUN` runs.

    rnnkit.serve.serve("runs/imdb_lstm", host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from .app import app, require
from .limits import DEFAULT_LIMITS, Limits


def serve(run_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8000, limits: Limits = DEFAULT_LIMITS) -> None:
    """Serves until interrupted (Ctrl-C). The server has no authentication: on an address other
    than loopback, anyone who can reach it can use the model, so that is said on stderr."""
    require()
    import uvicorn

    api = app(run_dir, limits)
    if not is_loopback(host):
        print(f"note: serving on {host}, reachable from other machines; the server has no authentication",
              file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {run_dir} at http://{shown}:{port}/ (API docs at /docs); Ctrl-C stops it", file=sys.stderr)
    uvicorn.run(api, host=host, port=port, log_level="info")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
