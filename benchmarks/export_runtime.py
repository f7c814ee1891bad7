"""Exported graphs against eager PyTorch on the CPU: per-step latency at batch 1 (streaming) and
throughput at batch 64 (whole sequences) for a language model, a text classifier and a forecaster.

    .venv/bin/python benchmarks/export_runtime.py [--threads 2] [--quick] [--json results.json]

Backends, all in one process on the same weights and inputs:
- eager: the rnnkit model itself in eval mode under no_grad (streaming: stepping one token at a
  time with its own state, e.g. `LanguageModel.forward(tokens[:, t:t+1], state)`);
- eager graph: the export `Graph` module run in Python (its time loop is already TorchScript);
- torchscript: the file `to_torchscript` writes, through `torch.jit.load`;
- onnxruntime: the file `to_onnx` writes, through `InferenceSession` (CPU provider).
latency: the streaming graph (`graph_of(model, streaming=True)`) fed one step at a time at batch 1,
the state kept by the caller (tensors or numpy arrays fed back), from zeros for each repeat of
--steps steps; microseconds per step. throughput: the whole-sequence graph at --batch; sequences
per second. torch.set_num_threads and onnxruntime's intra_op_num_threads are both --threads.

Method (perf-notes, "Method"; as benchmarks/layers.py): every backend warms up (TorchScript's
profiling executor optimises on the second call) and is checked against eager (max abs diff of the
main output and of the final state) first. Blocks rotate through the backends, with a --pause (50 ms)
before each so one runtime's spinning threads do not steal the next one's cores; a latency block
is one pass of --steps steps, a throughput block about --block seconds of calls. The median is over
--repeats blocks; `time / eager` is the median of per-repeat time ratios to eager timed in the same
repeat (< 1: faster than eager). `cpu` is process CPU time over wall time per block: about
--threads on an idle machine (ONNX Runtime's spin-waiting counts as CPU time); a value well below
that means another process took a core, and the run should be thrown away.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch
from torch import Tensor, nn

from _timing import interleaved
from rnnkit.config import ModelConfig
from rnnkit.export import ExportError, Graph, graph_of
from rnnkit.export.writers import example, to_onnx, to_torchscript
from rnnkit.layers.pooling import POOLINGS
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.forecaster import Forecaster
from rnnkit.models.language_model import LanguageModel
from rnnkit.models.likelihoods import to_params
from rnnkit.models.stack import build_rnn

BACKENDS = ["eager", "eager graph", "torchscript", "onnxruntime"]
MODES = ["latency", "throughput"]
QUICK = dict(lm_vocab=50, lm_embedding=16, lm_hidden=16, lm_length=8, cls_vocab=50, cls_embedding=8,
             cls_hidden=16, cls_length=12, fc_features=2, fc_hidden=8, fc_window=12, fc_horizon=4,
             batch=4, steps=20, repeats=2, block=0.01, pause=0.005)
Runner = Callable[[], tuple[list, Any]]         # () -> (main output of each call, final state)
Call = Callable[[nn.Module, Tensor, Tensor, Any], tuple[Tensor, Any]]   # (model, x, lengths, state) -> (output, state)


@dataclass
class Case:
    """One model: its whole-sequence form and inputs, its streaming form and how eager steps it."""

    name: str
    about: str
    model: nn.Module
    whole: Call                                 # the model's forward on a padded batch
    inputs: tuple[Tensor, Tensor]               # x (B, T[, I]), lengths (B,)
    stream_model: nn.Module
    step: Call                                  # one step, x (1, 1[, I]), with the state carried
    stream_input: Tensor                        # (1, steps[, I])


def language_model(a: argparse.Namespace) -> Case:
    torch.manual_seed(0)
    rnn = build_rnn(ModelConfig(cell="lstm", hidden_size=a.lm_hidden, num_layers=a.lm_layers), a.lm_embedding)
    tied = a.lm_embedding == a.lm_hidden
    model = LanguageModel(a.lm_vocab, rnn, embedding_size=a.lm_embedding, tie_weights=tied).eval()
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, a.lm_vocab, (a.batch, a.lm_length), generator=g)
    forward: Call = lambda m, x, lengths, state: m(x, state)
    return Case("language model", f"V={a.lm_vocab}, E={a.lm_embedding}, {a.lm_layers} x LSTM {a.lm_hidden}"
                f"{', tied' if tied else ''}; throughput T={a.lm_length}", model, forward,
                (tokens, torch.full((a.batch,), a.lm_length)), model, forward,
                torch.randint(0, a.lm_vocab, (1, a.steps), generator=g))


def text_classifier(a: argparse.Namespace, pooling: str, bidirectional: bool) -> SequenceClassifier:
    torch.manual_seed(2)
    cfg = ModelConfig(cell="lstm", hidden_size=a.cls_hidden, num_layers=a.cls_layers, bidirectional=bidirectional)
    rnn = build_rnn(cfg, a.cls_embedding)
    pool = POOLINGS[pooling](rnn.output_size, bidirectional=bidirectional)
    return SequenceClassifier(rnn, pool, a.cls_classes, vocab_size=a.cls_vocab, embedding_size=a.cls_embedding).eval()


def classifier(a: argparse.Namespace) -> Case:
    model = text_classifier(a, a.cls_pooling, a.cls_bidirectional)
    streamable = a.cls_pooling == "last" and not a.cls_bidirectional
    stream_model = model if streamable else text_classifier(a, "last", False)   # the only streaming form
    g = torch.Generator().manual_seed(3)
    tokens = torch.randint(0, a.cls_vocab, (a.batch, a.cls_length), generator=g)
    lengths = torch.randint(a.cls_length // 2, a.cls_length + 1, (a.batch,), generator=g)
    lengths[0] = a.cls_length                                          # padded to the longest
    about = (f"V={a.cls_vocab}, E={a.cls_embedding}, {a.cls_layers} x {'bidirectional ' * a.cls_bidirectional}"
             f"LSTM {a.cls_hidden}, {a.cls_pooling} pooling, {a.cls_classes} classes; throughput "
             f"T={a.cls_length} padded (lengths {a.cls_length // 2}..{a.cls_length})")
    if not streamable:
        about += "; latency: the same sizes with last pooling, unidirectional (the streaming form)"
    return Case("classifier", about, model, lambda m, x, lengths, state: m(x, state, lengths), (tokens, lengths),
                stream_model, lambda m, x, lengths, state: m(x, state),   # a step's logits: head(last h)
                torch.randint(0, a.cls_vocab, (1, a.steps), generator=g))


def forecaster_step(model: Forecaster, x: Tensor, lengths: Tensor, state: Any) -> tuple[Tensor, Any]:
    """The forecast after one more step: Forecaster.forward's encoder and head (eval mode, no
    known-future features) with the state carried, which forward does not expose."""
    y, state = model.rnn(x, state)                                                  # (B, 1, H)
    raw = model.head(y[:, -1]).view(x.size(0), model.horizon, model.params)         # (B, K, P)
    return to_params(raw, model.output), state


def forecaster(a: argparse.Namespace) -> Case:
    torch.manual_seed(4)
    rnn = build_rnn(ModelConfig(cell="lstm", hidden_size=a.fc_hidden, num_layers=a.fc_layers), a.fc_features)
    model = Forecaster(rnn, horizon=a.fc_horizon).eval()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(a.batch, a.fc_window, a.fc_features, generator=g)
    return Case("forecaster", f"I={a.fc_features}, {a.fc_layers} x LSTM {a.fc_hidden}, horizon {a.fc_horizon}, "
                f"gaussian (the graph also returns the point and 80% interval, which forward does not); throughput "
                f"window {a.fc_window}", model, lambda m, x, lengths, state: (m(x), None),
                (x, torch.full((a.batch,), a.fc_window)), model, forecaster_step,
                torch.randn(1, a.steps, a.fc_features, generator=g))


CASES = {"lm": language_model, "classifier": classifier, "forecaster": forecaster}


def exported(graph: Graph, folder: Path, threads: int) -> tuple[torch.jit.ScriptModule, Any]:
    """The graph written as TorchScript and ONNX, loaded back as a deployment would."""
    inputs = example(graph)
    to_torchscript(graph, folder / "graph.pt", inputs)
    to_onnx(graph, folder / "graph.onnx", inputs)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = onnxruntime.InferenceSession(str(folder / "graph.onnx"), options, providers=["CPUExecutionProvider"])
    with warnings.catch_warnings():            # torch 2.10+ marks TorchScript deprecated; it still works
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(folder / "graph.pt")).eval(), session


def runners(case: Case, graph: Graph, script: nn.Module, session: Any) -> dict[str, Runner]:
    """Each backend's call: the whole padded batch once, or (streaming) the input one step at a
    time, the state fed back by the caller: eager's own, tensors, numpy arrays."""
    if graph.streaming:
        model, call, one = case.stream_model, case.step, torch.ones(1, dtype=torch.long)
        chunks = [(case.stream_input[:, t:t + 1], one) for t in range(case.stream_input.size(1))]
    else:
        model, call, chunks = case.model, case.whole, [case.inputs]
    arrays = [(x.numpy(), lengths.numpy()) for x, lengths in chunks]
    zeros = tuple(torch.zeros(1, s.stop - s.start, dtype=graph.dtype) for s in graph.slots) if graph.streaming else ()
    names, n_out = [p.name for p in graph.input_ports()], len(graph.outputs())

    def eager() -> tuple[list, Any]:
        outs, state = [], None
        with torch.no_grad():
            for x, lengths in chunks:
                y, state = call(model, x, lengths, state)
                outs.append(y)
        return outs, state

    def module(m: nn.Module) -> Runner:
        def run() -> tuple[list, Any]:
            outs, state = [], zeros
            with torch.no_grad():
                for x, lengths in chunks:
                    out = m(x, lengths, *state)
                    outs.append(out[0])
                    state = out[n_out:]
            return outs, state
        return run

    def ort() -> tuple[list, Any]:
        outs, state, feed = [], None, {n: z.numpy() for n, z in zip(names[2:], zeros)}
        for x, lengths in arrays:
            feed[names[0]], feed[names[1]] = x, lengths
            out = session.run(None, feed)
            outs.append(out[0])
            state = out[n_out:]
            feed.update(zip(names[2:], state))
        return outs, state

    return {"eager": eager, "eager graph": module(graph), "torchscript": module(script), "onnxruntime": ort}


def as_array(value: Any) -> np.ndarray | None:
    """A tensor or array, or a nested state's components side by side (B, S) in slot order."""
    if value is None or isinstance(value, np.ndarray):
        return value
    if isinstance(value, Tensor):
        return value.numpy()
    return np.concatenate([as_array(v) for v in value], axis=1)


def agreement(fns: dict[str, Runner]) -> dict[str, float]:
    """Per backend: the largest absolute difference from eager over the main output of every call
    and (where eager gives one) the final state. Also each one's first warm-up call."""
    results = {name: fn() for name, fn in fns.items()}
    main = lambda outs: np.concatenate([as_array(o) for o in outs], axis=0)
    want, want_state = main(results["eager"][0]), as_array(results["eager"][1])
    worst = {}
    for name, (outs, state) in results.items():
        got = main(outs)
        if got.shape != want.shape:
            raise ExportError(f"{name} gives an output of shape {got.shape}, eager {want.shape}")
        worst[name] = float(np.max(np.abs(got - want), initial=0.0))
        if want_state is not None:
            worst[name] = max(worst[name], float(np.max(np.abs(as_array(state) - want_state), initial=0.0)))
    return worst


def measure(case: Case, mode: str, a: argparse.Namespace, folder: Path) -> list[dict]:
    streaming = mode == "latency"
    graph = graph_of(case.stream_model if streaming else case.model, streaming=streaming)
    folder.mkdir()
    script, session = exported(graph, folder, a.threads)
    fns = runners(case, graph, script, session)
    diffs = agreement(fns)
    timings = interleaved(fns, a.repeats, 0.0 if streaming else a.block, a.pause)
    eager = timings["eager"]["times"]
    rows = []
    for name in BACKENDS:
        times = timings[name]["times"]
        median = statistics.median(times)
        rows.append({"model": case.name, "mode": mode, "backend": name,
                     "value": 1e6 * median / a.steps if streaming else a.batch / median,
                     "unit": "us/step" if streaming else "seq/s",
                     "ratio": statistics.median(t / e for t, e in zip(times, eager)),
                     "max_abs_diff": diffs[name], "cpu": statistics.median(timings[name]["cpu"]),
                     "seconds": times})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| model | mode | backend | median | time / eager | max abs diff | cpu |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        value = f"{r['value']:,.1f} µs/step" if r["unit"] == "us/step" else f"{r['value']:,.0f} seq/s"
        lines.append(f"| {r['model']} | {r['mode']} | {r['backend']} | {value} | {r['ratio']:.2f} | "
                     f"{r['max_abs_diff']:.1e} | {r['cpu']:.2f} |")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    p.add_argument("--quick", action="store_true", help="tiny models, 2 short repeats (a smoke run; "
                   "overrides the size flags)")
    p.add_argument("--json", help="write the settings and raw results to this file")
    p.add_argument("--models", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    p.add_argument("--threads", type=int, default=2, help="torch and onnxruntime intra-op threads")
    p.add_argument("--batch", type=int, default=64, help="throughput batch size")
    p.add_argument("--steps", type=int, default=200, help="latency: steps per repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--block", type=float, default=0.5, help="throughput: seconds of calls per block")
    p.add_argument("--pause", type=float, default=0.05, help="seconds of sleep before each block")
    for flag, value in [("lm-vocab", 10_000), ("lm-embedding", 400), ("lm-hidden", 400), ("lm-layers", 2),
                        ("lm-length", 35), ("cls-vocab", 20_000), ("cls-embedding", 128), ("cls-hidden", 256),
                        ("cls-layers", 1), ("cls-classes", 2), ("cls-length", 200), ("fc-features", 7),
                        ("fc-hidden", 64), ("fc-layers", 2), ("fc-window", 96), ("fc-horizon", 24)]:
        p.add_argument(f"--{flag}", type=int, default=value)
    p.add_argument("--cls-pooling", choices=["attention", "last"], default="attention")
    p.add_argument("--cls-bidirectional", action="store_true", help="a bidirectional classifier (throughput; "
                   "latency then uses a unidirectional one of the same sizes)")
    a = p.parse_args(argv)
    if a.quick:
        vars(a).update(QUICK)
    unknown = set(a.models.split(",")) - set(CASES)
    if unknown:
        p.error(f"--models: unknown {sorted(unknown)}; choose from {list(CASES)}")
    if min(a.steps, a.batch, a.repeats, a.threads) < 1:
        p.error("--steps, --batch, --repeats and --threads must be >= 1")
    return a


def main(argv: list[str] | None = None) -> list[dict]:
    a = parse(argv)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(a.threads)
    rows, notes, about = [], [], {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for key in a.models.split(","):
                case = CASES[key](a)
                about[case.name] = case.about
                for mode in MODES:
                    print(f"{case.name}, {mode}: exporting, checking, timing", flush=True)
                    try:
                        rows += measure(case, mode, a, Path(tmp) / f"{key}-{mode}")
                    except ExportError as error:
                        notes.append(f"{case.name}, {mode}: skipped ({error})")
                        print(f"  skipped: {error}", flush=True)
    finally:
        torch.set_num_threads(threads_before)
    print(f"\ntorch {torch.__version__}, onnxruntime {onnxruntime.__version__}; {a.threads} threads "
          f"(torch.set_num_threads and onnxruntime intra_op_num_threads); {a.repeats} repeats; latency: batch 1, "
          f"{a.steps} steps per repeat; throughput: batch {a.batch}")
    for name, text in about.items():
        print(f"- {name}: {text}")
    for note in notes:
        print(f"- {note}")
    print(table(rows))
    worst = max((r["max_abs_diff"] for r in rows), default=0.0)
    if worst > 1e-3:
        print(f"WARNING: a backend differs from eager by {worst:.1e}; its timings may not be comparable")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "threads": a.threads,
                       "settings": {k: v for k, v in vars(a).items() if k != "json"}, "models": about,
                       "notes": notes, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
