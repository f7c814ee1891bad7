"""Peak memory of one training step (forward + backward) of torch.nn.LSTM and rnnkit's LSTM layers
(plain, zoneout, recurrent dropout, weight drop, layer norm, all three), on the CPU.

    .venv/bin/python benchmarks/layer_memory.py [--shapes 1000,16,64,128 200,64,256,512] [--json out.json]

How (issue #22): torch's CPU allocator keeps no statistics, and tracemalloc does not see its
allocations, so each measurement runs in a fresh subprocess whose C allocator returns every block
of 64 KiB or more to the OS when it is freed (MALLOC_MMAP_THRESHOLD_=65536, MALLOC_TRIM_THRESHOLD_=0):
the process's resident set then follows the live tensors. The layer and its input are built, one
step is run as a warm-up (one-time buffers, thread pools), the gradients are set to None, and a
thread samples the resident set (/proc/self/statm) every 0.2 ms while a second step runs (the
native loops' pool of big arrays, `kernels.workspace`, is emptied before it, so that what the step
reuses from the first one is counted as the step's memory, not as the memory before it). The
figure is the peak minus the resident set just before that step: the activations kept for the
backward pass, the gradients and the temporaries, not the weights or the input. Median of
`--repeats` subprocesses; ratio to nn.LSTM in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

LAYERS = ["nn.LSTM", "lstm", "lstm+zoneout", "lstm+rdrop", "lstm+wdrop", "ln_lstm", "ln_lstm+zoneout+rdrop"]
SHAPES = [(1000, 16, 64, 128), (200, 64, 256, 512)]                    # T, B, I, H
PAGE = os.sysconf("SC_PAGE_SIZE")


def resident() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def measure(name: str, T: int, B: int, I: int, H: int) -> float:
    """In this process: the peak extra resident memory (MiB) of one training step of layer `name`."""
    import torch

    sys.path.insert(0, os.path.dirname(__file__))
    from layers import contenders
    from rnnkit.kernels import workspace

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    layer = contenders(I, H)[0][name].train()
    x, grad = torch.randn(B, T, I), torch.randn(B, T, H)

    def step() -> None:
        for p in layer.parameters():
            p.grad = None
        y, _ = layer(x)
        y.backward(grad)

    step()
    for p in layer.parameters():
        p.grad = None
    workspace.release()             # the native loops' pooled arrays count in the step, as on a first step
    peak, running = [resident()], [True]
    before = peak[0]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], resident())
            time.sleep(0.0002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    step()
    running[0] = False
    sampler.join()
    return (max(peak[0], resident()) - before) / 2 ** 20


def in_subprocess(name: str, shape: tuple[int, ...]) -> float:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
    out = subprocess.run([sys.executable, __file__, "--one", name, ",".join(map(str, shape))], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", default=[",".join(map(str, s)) for s in SHAPES])
    parser.add_argument("--layers", nargs="+", default=LAYERS, choices=LAYERS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the table here as JSON")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)          # NAME T,B,I,H: one measurement
    args = parser.parse_args()
    if args.one:
        print(measure(args.one[0], *map(int, args.one[1].split(","))))
        return
    rows = []
    for text in args.shapes:
        shape = tuple(map(int, text.split(",")))
        mib = {name: statistics.median(in_subprocess(name, shape) for _ in range(args.repeats))
               for name in args.layers}
        print(f"(T, B, I, H) = {shape}")
        for name, value in mib.items():
            ratio = value / mib["nn.LSTM"] if mib.get("nn.LSTM") else float("nan")
            print(f"  {name:24s} {value:9.1f} MiB   {ratio:5.2f}x nn.LSTM")
            rows.append({"shape": list(shape), "layer": name, "mib": value, "ratio": ratio})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
