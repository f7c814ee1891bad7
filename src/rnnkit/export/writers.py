"""Graphs to files: TorchScript (`torch.jit.trace` around the scripted loops) and ONNX (the
TorchScript-based exporter, which turns the scripted time loop into an ONNX `Loop` with a dynamic
trip count; torch.export-based export specialises a Python loop to the example's length), then
a check that the file computes what the eager graph computes, on inputs of another batch size and
length than the example's, with padding."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .base import Graph, Port
from .errors import ExportError

OPSET = 17
TOLERANCE = 1e-4     # float32 against float32 eager; the tests ask 1e-5 on their models


def example(graph: Graph, batch: int = 2, steps: int = 3, *, seed: int = 0) -> tuple[Tensor, ...]:
    """Inputs for every port of `graph`: random tokens below its vocabulary size or features, lengths from
    `steps` down to 1 (padding), small random states."""
    own = graph.example_inputs(batch, steps, seed)
    if own is not None:
        return own
    generator = torch.Generator().manual_seed(seed)
    values = []
    for port in graph.input_ports():
        shape = [batch if a == "batch" else steps if a == "time" else int(a) for a in port.axes]
        if port.name == "lengths":
            values.append(torch.linspace(steps, 1, batch).round().long().clamp_min(min(1, steps)))
        elif port.dtype == "int64":          # (B, T) tokens, or (B,) for one step (a decoder's token)
            values.append(torch.randint(0, max(graph.vocab, 1), shape, generator=generator))
        else:
            values.append(0.5 * torch.randn(*shape, generator=generator, dtype=graph.dtype))
    return tuple(values)


def traced(graph: Graph, example_inputs: tuple[Tensor, ...]) -> torch.jit.ScriptModule:
    """The graph traced on `example_inputs`: its pre- and post-processing recorded, its scripted
    loops kept as loops."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)     # TorchScript's, see recurrence._script
        return torch.jit.trace(graph, example_inputs, check_trace=False)


def to_torchscript(graph: Graph, path: Path, example_inputs: tuple[Tensor, ...]) -> None:
    traced(graph, example_inputs).save(str(path))


def to_onnx(graph: Graph, path: Path, example_inputs: tuple[Tensor, ...]) -> None:
    inputs, outputs = graph.input_ports(), graph.output_ports()
    dynamic = {p.name: {i: a for i, a in enumerate(p.axes) if isinstance(a, str)} for p in [*inputs, *outputs]}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")          # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(traced(graph, example_inputs), example_inputs, str(path), dynamo=False,
                              opset_version=OPSET, input_names=[p.name for p in inputs],
                              output_names=[p.name for p in outputs], dynamic_axes=dynamic)
        _drop_inner_shapes(path)
    except OSError:
        raise
    except Exception as error:      # the exporter's errors name the op; say which model it was
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ExportError(f"ONNX export of the {type(graph).__name__} failed: {first}") from None


def _drop_inner_shapes(path: Path) -> None:
    """Removes the exporter's shape annotations of intermediate values, in the graph and in every
    loop and branch body. Its symbolic dims can tie two different shapes together (a dilated
    layer's (B d, S, H) to the stack's (B, T, H)), and ONNX Runtime then reuses one buffer for both;
    without them the runtime infers shapes itself. Inputs and outputs keep theirs."""
    import onnx

    model = onnx.load(str(path))

    def clear(graph: onnx.GraphProto, body: bool) -> None:
        del graph.value_info[:]
        for value in graph.output if body else ():        # a body's outputs: their shapes too
            if value.type.HasField("tensor_type"):
                value.type.tensor_type.ClearField("shape")
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    clear(attribute.g, True)
                for inner in attribute.graphs:
                    clear(inner, True)

    clear(model.graph, False)
    onnx.save(model, str(path))


def run_file(path: Path, kind: str, inputs: tuple[Tensor, ...], names: list[str]) -> list[np.ndarray]:
    """The exported file's outputs on `inputs`: TorchScript through torch.jit.load, ONNX through
    onnxruntime (the CPU provider)."""
    if kind == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path))
        with torch.no_grad():
            return [t.numpy() for t in module(*inputs)]
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})


def verify(graph: Graph, path: Path, kind: str, inputs: tuple[Tensor, ...]) -> float:
    """The largest absolute difference between the file's outputs and the eager graph's on
    `inputs`; an ExportError when it exceeds TOLERANCE or the shapes differ."""
    with torch.no_grad():
        want = [t.numpy() for t in graph(*inputs)]
    got = run_file(path, kind, inputs, [p.name for p in graph.input_ports()])
    worst = 0.0
    for port, w, g in zip(graph.output_ports(), want, got):
        if w.shape != g.shape:
            raise ExportError(f"the exported {kind} graph gives {port.name} of shape {g.shape}, eager {w.shape}")
        if w.size:
            worst = max(worst, float(np.max(np.abs(w - g))))
    if not worst <= TOLERANCE:
        raise ExportError(f"the exported {kind} graph differs from the eager model by {worst:.2e} "
                          f"(tolerance {TOLERANCE:.0e}); this is a bug in rnnkit's export, please report it")
    return worst


def describe_ports(ports: list[Port]) -> list[dict]:
    return [{"name": p.name, "dtype": p.dtype, "shape": list(p.axes)} for p in ports]
