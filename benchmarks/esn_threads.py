"""The ESN torch loop's thread count under contention: ReservoirCell.scan over 10,000 steps at 2,000
units (float32, density 0.1) with torch's 2 threads fixed (rnnkit before the adaptive choice), the
adaptive choice (kernels/reservoir.py `_adaptive`) and one thread. Medians of 3.

    python benchmarks/esn_threads.py                              # on an idle machine
    taskset -c 1 python3 -c 'while True: pass' &                  # then with a busy second core
    python benchmarks/esn_threads.py
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from rnnkit.cells import ReservoirCell
from rnnkit.kernels import reservoir as reservoir_kernel


def main(modes: list[str]) -> None:
    torch.manual_seed(0)
    cell = ReservoirCell(1, 2000, density=0.1, spectral_radius=1.25, leak=0.3)
    x, h0 = torch.randn(1, 10000, 1), (torch.zeros(1, 2000),)
    cell.scan(x[:, :100], h0)                                      # warm-up
    probe = reservoir_kernel._PROBE_STEPS
    for mode in modes:
        times = []
        for _ in range(3):
            torch.set_num_threads(1 if mode == "one" else 2)
            reservoir_kernel._PROBE_STEPS = 10**9 if mode == "fixed2" else probe   # never probe: 2 threads
            start = time.perf_counter()
            cell.scan(x, h0)
            times.append(time.perf_counter() - start)
        print(f"{mode}: median {statistics.median(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})", flush=True)
    reservoir_kernel._PROBE_STEPS = probe


if __name__ == "__main__":
    main(sys.argv[1:] or ["fixed2", "adaptive", "one"])
