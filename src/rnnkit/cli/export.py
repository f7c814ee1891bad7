"""`rnnkit export`: a trained run's model as an ONNX or TorchScript file with its JSON description.

    rnnkit export runs/imdb_lstm                                  # runs/imdb_lstm/export/model.onnx
    rnnkit export runs/shakespeare_char --streaming --format torchscript --out lm_stream.pt

The file is checked against the eager model before it is written; docs/deploy.md says what each
task's graph takes and returns, and how to feed a streaming graph its state.
"""

from __future__ import annotations

import argparse

from ..export import FORMATS, export_run
from ..runs.load import read_meta
from ._args import no_overrides

EXAMPLES = """examples:
  rnnkit export runs/imdb_lstm                                   # -> runs/imdb_lstm/export/model.onnx (+ .json)
  rnnkit export runs/shakespeare_char --streaming                            # state_in.* / state_out.* tensors
  rnnkit export runs/shakespeare_char --format torchscript --out lm.pt       # torch.jit.load("lm.pt")"""


def export(args: argparse.Namespace, overrides: list[str]) -> int:
    no_overrides("export", overrides)
    files, info, worst = export_run(args.run_dir, format=args.format, streaming=args.streaming, out=args.out)
    print(f"wrote {', '.join(map(str, files))} and {info} (largest difference from the eager model on a padded "
          f"batch: {worst:.1e})")
    if "selection" in read_meta(args.run_dir):
        print("note: the graph is the network alone; the run's own predictions follow the validated selection in "
              "its meta.json ('selection'), which the JSON file's usage describes")
    return 0


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    p = commands.add_parser("export", help="export a run's model to ONNX or TorchScript", epilog=EXAMPLES,
                            description="Write a trained run's model as an ONNX or TorchScript graph with dynamic "
                            "batch and time axes and `lengths`, checked against the eager model, and a JSON "
                            "file beside it with the vocabulary, labels, scaler and the graph's ports. "
                            "--streaming adds the recurrent state as inputs (state_in.*) and outputs "
                            "(state_out.*) so a caller feeds one step or many at a time.", **kind)
    p.add_argument("run_dir", help="a run directory")
    p.add_argument("--format", choices=list(FORMATS), default="onnx")
    p.add_argument("--streaming", action="store_true", help="state as explicit inputs and outputs (unidirectional "
                   "models only)")
    p.add_argument("--out", default=None, help="the model file (default RUN_DIR/export/model[.streaming].onnx|.pt); "
                   "the JSON goes beside it with .json")


COMMANDS = {"export": export}
