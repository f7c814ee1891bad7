"""`rnnkit serve`: a trained run over HTTP, with a web page (rnnkit.serve).

    rnnkit serve runs/imdb_lstm                        # http://127.0.0.1:8000/ ; API docs at /docs
    rnnkit serve runs/shakespeare_char --port 9000 --max-tokens 2000
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..io.keys import keys
from ..serve import Limits, serve
from ._args import no_overrides

EXAMPLES = """examples:
  rnnkit serve runs/imdb_lstm                              # POST /classify; a web page at http://127.0.0.1:8000/
  rnnkit serve runs/shakespeare_char --port 9000           # POST /generate, streamed with "stream": true
  rnnkit serve runs/forecast_lstm --host 0.0.0.0           # reachable from other machines (no authentication)
  curl -s localhost:8000/classify -d '{"texts": ["a fine film"]}'"""


def serve_command(args: argparse.Namespace, overrides: list[str]) -> int:
    no_overrides("serve", overrides)
    limits = Limits(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Limits)})
    try:
        serve(args.run_dir, host=args.host, port=args.port, limits=limits)
    except ImportError as error:                   # the serve extra is not installed
        print(f"rnnkit serve: error: {error}", file=sys.stderr)
        return 2
    return 0


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    p = commands.add_parser("serve", help="serve a trained run over HTTP, with a web page", epilog=EXAMPLES,
                            description="Serve a trained run: its task's endpoint (POST /generate, /classify, "
                            "/forecast, /transcribe or /translate), GET /health and /metadata, OpenAPI docs at "
                            "/docs and a web page at /. Concurrent requests are batched on one model thread.",
                            **kind)
    p.add_argument("run_dir", help="a run directory (language_modeling, text or sequence classification, "
                   "forecasting, speech or translation)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    defaults = Limits()
    for key in keys(Limits):                       # one flag per limit, its help the field's comment
        default = getattr(defaults, key.name)
        p.add_argument(f"--{key.name.replace('_', '-')}", f"--{key.name}", dest=key.name, type=type(default),
                       default=default, metavar=key.type.upper(), help=f"{key.comment} (default {default})")


COMMANDS = {"serve": serve_command}
