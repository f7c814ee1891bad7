"""rnnkit layers against their torch.nn peers on the CPU, inference and training.

    .venv/bin/python benchmarks/layers.py [--quick] [--json results.json] [--shape T,B,I,H ...] [--layers a,b]
    .venv/bin/python benchmarks/layers.py --combine run1.json run2.json ...   # medians over runs

Rows marked [python] time the same layer on the readable torch loops of `rnnkit.kernels`
(RNNKIT_KERNELS=python) beside the default native ones; rows marked [one] the native loop with
its per-step row passes on one thread (`kernels._teams.one_thread`), where the default splits them
over torch's threads; `gru` is also compared with nn.LSTM.

Method (perf-notes, "Method"): all contenders of one shape run in one process, interleaved in
rotating order, in blocks of about 0.2 s (or one call when a call takes longer), with a 50 ms
pause before each block so one runtime's spinning threads do not steal the next one's cores.
ms is the median over repeats; a ratio is the median of per-repeat ratios to the peer timed in
the same repeat. `cpu` is process CPU time over wall time per block: about 2.0 on an idle
2-core machine; well below that means another process took a core, and the run should be
thrown away. "infer" is eval mode under no_grad; "train" is `y.backward(grad)` after
setting the gradients to None, with x not requiring grad (a first layer).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from _timing import interleaved
from rnnkit import (
    ElmanCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    MinGRUCell,
    Recurrent,
    RecurrentDropout,
    Zoneout,
    weight_drop,
)
from rnnkit.cells import GRUCell
from rnnkit.kernels._teams import one_thread
from rnnkit.kernels.backend import using

SHAPES = [(100, 32, 128, 256), (200, 64, 256, 512), (1000, 16, 64, 128), (50, 1, 32, 64)]  # T, B, I, H
MINGRU_SHAPE = (4096, 8, 64, 128)
# layers also timed on the readable torch loops, beside the default native ones
PYTHON_ROWS = ("elman", "gru", "ln_gru", "mingru", "lstm+zoneout", "lstm+rdrop", "ln_lstm", "ln_lstm+zoneout+rdrop")
# layers also timed with their native loop's row passes on one thread (the loops that split them)
ONE_THREAD_ROWS = ("elman", "gru", "lstm+zoneout", "lstm+rdrop", "ln_lstm", "ln_lstm+zoneout+rdrop")


def copied(cell: nn.Module, peer: nn.Module) -> nn.Module:
    """cell with peer's layer-0 weights (torch names; layer norm cells take W_ih and W_hh only)."""
    weights = {k.removesuffix("_l0"): v for k, v in peer.state_dict().items()}
    own = cell.state_dict()
    cell.load_state_dict({k: weights.get(k, v) for k, v in own.items()})
    return cell


def contenders(I: int, H: int) -> tuple[dict[str, nn.Module], dict[str, str]]:
    """Layers by name, and each rnnkit layer's torch peer."""
    torch.manual_seed(0)
    peers = {"nn.RNN": nn.RNN(I, H, batch_first=True), "nn.LSTM": nn.LSTM(I, H, batch_first=True),
             "nn.GRU": nn.GRU(I, H, batch_first=True)}
    lstm = lambda: copied(LSTMCell(I, H), peers["nn.LSTM"])
    layers = {
        "elman": Recurrent(copied(ElmanCell(I, H), peers["nn.RNN"])),
        "lstm": Recurrent(lstm()),
        "gru": Recurrent(copied(GRUCell(I, H), peers["nn.GRU"])),
        "ln_gru": Recurrent(copied(LayerNormGRUCell(I, H), peers["nn.GRU"])),
        "mingru": Recurrent(MinGRUCell(I, H)),
        "lstm+zoneout": Recurrent(Zoneout(lstm(), 0.1)),
        "lstm+rdrop": Recurrent(RecurrentDropout(lstm(), 0.25)),
        "lstm+wdrop": Recurrent(weight_drop(lstm(), 0.5)),
        "ln_lstm": Recurrent(copied(LayerNormLSTMCell(I, H), peers["nn.LSTM"])),
        "ln_lstm+zoneout+rdrop": Recurrent(RecurrentDropout(Zoneout(
            copied(LayerNormLSTMCell(I, H), peers["nn.LSTM"]), 0.1), 0.25)),
    }
    # the same layers on the readable torch loops (RNNKIT_KERNELS=python): what the native ones replace
    layers.update({f"{name} [python]": layer for name, layer in layers.items() if name in PYTHON_ROWS})
    layers.update({f"{name} [one]": layers[name] for name in ONE_THREAD_ROWS})
    pairs = [(name, "nn.RNN" if name.startswith("elman") else "nn.GRU" if "gru" in name else "nn.LSTM")
             for name in layers]
    pairs.append(("gru", "nn.LSTM"))          # the other GRU bar: no slower than nn.LSTM
    return {**peers, **layers}, pairs


def call(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor, train: bool, kernels: str,
         one: bool = False) -> Callable[[], None]:
    """One inference or training call of `layer` with the CPU loops of `kernels` (native or python),
    with the native loops' row passes on one thread if `one`."""
    layer.train(train)
    params = list(layer.parameters())

    def infer() -> None:
        with torch.no_grad(), using(kernels), one_thread() if one else nullcontext():
            layer(x)

    def step() -> None:
        for p in params:
            p.grad = None
        with using(kernels), one_thread() if one else nullcontext():
            y, _ = layer(x)
            y.backward(grad)

    return step if train else infer


def summarise(shape: tuple, mode: str, timings: dict[str, dict], pairs: list[tuple[str, str]]) -> list[dict]:
    rows = []
    for name, peer in pairs:
        if name not in timings:
            continue
        mine, theirs = timings[name]["times"], timings[peer]["times"]
        rows.append({"shape": list(shape), "mode": mode, "layer": name, "peer": peer,
                     "ms": 1e3 * statistics.median(mine), "peer_ms": 1e3 * statistics.median(theirs),
                     "ratio": statistics.median(a / b for a, b in zip(mine, theirs)),
                     "cpu": statistics.median(timings[name]["cpu"]),
                     "peer_cpu": statistics.median(timings[peer]["cpu"]),
                     "times_ms": [1e3 * t for t in mine], "peer_times_ms": [1e3 * t for t in theirs]})
    return rows


def run_shape(shape: tuple, names: list[str] | None, repeats: int, block_s: float) -> list[dict]:
    T, B, I, H = shape
    layers, pairs = contenders(I, H)
    if names is not None:
        layers = {k: v for k, v in layers.items() if k in names}
        pairs = [(k, v) for k, v in pairs if k in names and v in names]
    torch.manual_seed(1)
    x, grad = torch.randn(B, T, I), torch.randn(B, T, H)
    rows = []
    for mode in ("infer", "train"):
        fns = {name: call(layer, x, grad, mode == "train", "python" if name.endswith("[python]") else "native",
                          one=name.endswith("[one]"))
               for name, layer in layers.items()}
        rows += summarise(shape, mode, interleaved(fns, repeats, block_s), pairs)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| T,B,I,H | mode | layer | peer | ms | peer ms | ratio | cpu |",
             "|---|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {','.join(map(str, r['shape']))} | {r['mode']} | {r['layer']} | {r['peer']} | "
                     f"{r['ms']:.2f} | {r['peer_ms']:.2f} | {r['ratio']:.2f} | "
                     f"{min(r['cpu'], r['peer_cpu']):.2f} |")
    return "\n".join(lines)


def combined(runs: list[list[dict]], mode: str = "train") -> str:
    """One row per (layer, peer), one column per shape: the median over runs of each run's ratio,
    with the runs' range in brackets. On a shared VM one run's ratios can move by 20% (perf-notes):
    a table from several whole runs, each interleaving its contenders, says more than any one."""
    shapes, pairs, ratios = [], [], {}
    for rows in runs:
        for r in rows:
            if r["mode"] != mode:
                continue
            shape, pair = tuple(r["shape"]), (r["layer"], r["peer"])
            shapes += [shape] if shape not in shapes else []
            pairs += [pair] if pair not in pairs else []
            ratios.setdefault((pair, shape), []).append(r["ratio"])
    lines = [f"| layer | peer | {' | '.join(','.join(map(str, s)) for s in shapes)} |",
             "|---|---|" + "---:|" * len(shapes)]
    for pair in pairs:
        cells = []
        for shape in shapes:
            got = ratios.get((pair, shape))
            cells.append("" if not got else f"{statistics.median(got):.2f}" if len(got) == 1 else
                         f"{statistics.median(got):.2f} ({min(got):.2f}-{max(got):.2f})")
        lines.append(f"| {pair[0]} | {pair[1]} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats of short blocks (a smoke run)")
    parser.add_argument("--json", help="write the raw results to this file")
    parser.add_argument("--shape", action="append", default=[], metavar="T,B,I,H",
                        help="time these shapes only (repeatable), without the minGRU T = 4096 row")
    parser.add_argument("--layers", metavar="A,B",
                        help="time these rows only (names as printed, comma-separated) and their peers")
    parser.add_argument("--combine", nargs="+", metavar="JSON",
                        help="print the median ratio over these --json files of whole runs (no timing)")
    args = parser.parse_args(argv)
    if args.combine:
        runs = [json.loads(Path(f).read_text())["rows"] for f in args.combine]
        for mode in ("train", "infer"):
            print(f"{mode}: median ratio over {len(runs)} runs (range)\n{combined(runs, mode)}\n")
        return
    repeats, block_s = (3, 0.05) if args.quick else (7, 0.2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {repeats} repeats")
    shapes = [tuple(int(n) for n in s.split(",")) for s in args.shape] or SHAPES
    names = None
    if args.layers:
        names = args.layers.split(",")
        names += sorted({peer for name in names for layer, peer in contenders(8, 8)[1] if layer == name} - set(names))
    rows = []
    for shape in shapes:
        rows += run_shape(shape, names, repeats, block_s)
        print(table([r for r in rows if r["shape"] == list(shape)]), flush=True)
    if not args.shape and (names is None or "mingru" in names):
        rows += run_shape(MINGRU_SHAPE, ["nn.GRU", "mingru", "mingru [python]"], repeats, block_s)
        print(table([r for r in rows if r["shape"] == list(MINGRU_SHAPE)]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(),
                       "repeats": repeats, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
