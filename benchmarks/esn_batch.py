"""`python benchmarks/esn.py batch`: the states of many short sequences, rnnkit against ReservoirPy 0.4.2.

JapaneseVowels-sized work (its 640 utterances, 12 cepstra, 7 to 29 frames), each sequence from a
zero state through one 500-unit reservoir (leak 0.2, spectral radius 0.9, density 0.1, the
settings of configs/esn_japanese_vowels.toml). ReservoirPy runs the list of sequences with
`Reservoir.run(list)`, its documented multi-series call (one sequence after another); rnnkit runs
the padded batch with lengths (kernels/reservoir_batch.py: one CSR x dense product per step over
the batch), on one thread and on torch's threads, and one sequence at a time. Both libraries get
ReservoirPy's W, W_in and bias; contenders are timed in rotating blocks (`_timing.interleaved`),
and every state is compared with ReservoirPy's (float64).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np
import torch

from _timing import interleaved
from rnnkit import Recurrent, ReservoirCell

RESERVOIRPY = "reservoirpy 0.4.2 run(list of sequences)"


def batch(units: int, repeats: int, quick: bool) -> list[dict]:
    """Prints one row per contender (ms, x faster than ReservoirPy, max abs difference of the
    states) and returns the rows."""
    seqs = _vowel_sequences(quick)
    res, layer = _same_reservoir(units, seqs[0])
    lengths = torch.tensor([len(s) for s in seqs])
    x = torch.zeros(len(seqs), int(lengths.max()), seqs[0].shape[1], dtype=torch.float64)   # (B, T, I)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = torch.from_numpy(s)

    def reservoirpy() -> list[np.ndarray]:
        res.reset()
        return res.run(seqs)                                                      # [(T_i, H)]

    def one_by_one() -> list[np.ndarray]:
        with torch.no_grad():
            return [layer(torch.from_numpy(s)[None])[0][0].numpy() for s in seqs]

    threads = torch.get_num_threads()
    contenders = {RESERVOIRPY: reservoirpy, "rnnkit batched, 1 thread": _batched(layer, x, lengths, 1)}
    if threads > 1:
        contenders[f"rnnkit batched, {threads} threads"] = _batched(layer, x, lengths, threads)
    contenders["rnnkit one sequence at a time"] = one_by_one
    expected = reservoirpy()
    diffs = {name: max(float(np.abs(a - b).max()) for a, b in zip(fn(), expected)) for name, fn in contenders.items()}
    timings = interleaved(contenders, repeats, block_s=0.05 if quick else 0.5, pause=0.2)
    base = timings[RESERVOIRPY]["times"]
    print(f"{len(seqs)} sequences of {int(lengths.min())}-{int(lengths.max())} steps ({int(lengths.sum())} in all), "
          f"{seqs[0].shape[1]} features, {units} units, density 0.1, leak 0.2, float64; medians of {repeats}")
    print("| contender | ms | x faster than reservoirpy | max abs diff of the states | cpu |")
    print("|---|---|---|---|---|")
    rows = []
    for name, timing in timings.items():
        ratio = statistics.median(b / t for b, t in zip(base, timing["times"]))
        rows.append({"contender": name, "ms": statistics.median(timing["times"]) * 1e3, "ratio": ratio,
                     "max_abs_diff": diffs[name], "cpu": statistics.median(timing["cpu"])})
        print(f"| {name} | {rows[-1]['ms']:.1f} | {ratio:.2f} | {diffs[name]:.1e} | {rows[-1]['cpu']:.1f} |")
    return rows


def _batched(layer: Recurrent, x: torch.Tensor, lengths: torch.Tensor, threads: int) -> Callable[[], list]:
    """rnnkit's states of the padded batch on `threads` torch threads, cut to each sequence's length."""
    def run() -> list[np.ndarray]:
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.no_grad():
                y = layer(x, lengths=lengths)[0]                                  # (B, T, H)
        finally:
            torch.set_num_threads(previous)
        return [y[i, :n].numpy() for i, n in enumerate(lengths.tolist())]
    return run


def _same_reservoir(units: int, first: np.ndarray):
    """A ReservoirPy reservoir and an rnnkit Recurrent(ReservoirCell) with its W, W_in and bias."""
    from reservoirpy.nodes import Reservoir
    res = Reservoir(units, lr=0.2, sr=0.9, input_scaling=0.5, bias=0.2, input_connectivity=1.0,
                    rc_connectivity=0.1, seed=units)
    res.run(first)                                                                # initialises W, W_in
    dense = lambda m: m.toarray() if hasattr(m, "toarray") else np.asarray(m)
    bias = np.broadcast_to(dense(res.bias).ravel(), (units,)).copy()
    cell = ReservoirCell.from_weights(torch.tensor(dense(res.Win)), torch.tensor(dense(res.W)),
                                      torch.tensor(bias), leak=0.2)
    return res, Recurrent(cell)


def _vowel_sequences(quick: bool) -> list[np.ndarray]:
    """JapaneseVowels' 640 utterances (12 cepstra, 7-29 frames), or for --quick 48 generated ones."""
    if quick:
        rng = np.random.default_rng(0)
        return [rng.standard_normal((int(n), 12)) for n in rng.integers(7, 30, 48)]
    from rnnkit.data.japanese_vowels import load_japanese_vowels
    return [x[i, :n].numpy() for x, _, lengths in load_japanese_vowels() for i, n in enumerate(lengths.tolist())]
