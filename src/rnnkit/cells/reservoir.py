"""The echo state network's reservoir: a fixed random recurrence (Jaeger 2001)."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..kernels import reservoir_loop
from .base import Cell, State

_EXACT_EIGENVALUES_UP_TO = 200  # above this, an iterative eigensolver (ARPACK) finds rho(W)
_COMPILED_LOOP_UP_TO = 128     # at or below this, the numba loop (kernels/reservoir_loop.py) when installed:
                                # 5.0 vs 8.0 us/step at 100 units f64 (f32 5.5 vs 5.7), but from 150 units on
                                # numpy's dense gemv loop wins (250 f32: 20 vs 10 us); docs/benchmarks.md
_NUMPY_LOOP_UP_TO = 1000        # at or below this, a numpy loop beats torch's per-op overhead
_SCIPY_CSR_ABOVE = 256          # and above this its mat-vec is scipy CSR (perf-notes 6: 22 vs 34 us at 500)
_DENSE_ABOVE_DENSITY = 0.3      # sparser reservoirs run a CSR mat-vec (perf-notes section 6)
_ONE_THREAD_UP_TO = 1000        # a mat-vec this small loses to OpenMP's per-step barrier: 57 us/step on
                                # one thread vs 220-430 us on two at 500 units f64, with a busy 2nd core
_PROBE_STEPS = 32               # above it, the loop times this many steps on all threads and on one, and
_REPROBE_EVERY = 2000           # keeps the faster until the next probe: on two idle cores 2 threads win
                                # (2.11x vs 1.41x ReservoirPy at 2000 units), but when another process
                                # takes a core every step waits at the barrier (0.75x); docs/benchmarks.md


def spectral_radius(weight: Tensor) -> float:
    """Largest |eigenvalue| of a square matrix: exact for small ones, ARPACK for large ones."""
    n = weight.size(0)
    if n <= _EXACT_EIGENVALUES_UP_TO:
        return float(torch.linalg.eigvals(weight.detach().double().cpu()).abs().max())
    import scipy.sparse
    import scipy.sparse.linalg
    w = scipy.sparse.csr_matrix(weight.detach().double().cpu().numpy())
    # k=6, not 1: a random W has many eigenvalues near |z| = rho (the circular law), and with k=1
    # ARPACK stopped on one 0.2 to 0.7% short of the largest at n = 600 to 2000.
    value = scipy.sparse.linalg.eigs(w, k=6, which="LM", v0=np.ones(n), tol=1e-10,
                                     return_eigenvectors=False, maxiter=50 * n)
    return float(np.abs(value).max())


class ReservoirCell(Cell):
    """Leaky-integrator reservoir (Jaeger 2001; Jaeger et al. 2007; Lukoševičius 2012):

        x_t = (1 - a) x_{t-1} + a tanh(W_in u_t + W x_{t-1} + W_fb y_{t-1} + b)

    W is sparse random (`density`, nonzeros U(-1, 1)) rescaled to `spectral_radius`; W_in is
    U(-1, 1) times `input_scaling` (a fraction `input_density` of entries kept); b is U(-1, 1)
    times `bias_scaling`. All weights are buffers, never trained by gradient.

    Output feedback is part of the input: the last `feedback_size` of the `input_size` columns
    carry y_{t-1} (teacher-forced while fitting, the model's own prediction when generating),
    and their weights W_fb are scaled by `feedback_scaling`. The output is the state x_t.
    """

    def __init__(self, input_size: int, hidden_size: int, *, spectral_radius: float = 0.9,
                 density: float = 0.1, leak: float = 1.0, input_scaling: float = 1.0,
                 input_density: float = 1.0, bias_scaling: float = 0.0, feedback_size: int = 0,
                 feedback_scaling: float = 1.0, seed: int | None = None,
                 generator: torch.Generator | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        _check_options(input_size, hidden_size, spectral_radius, density, leak, input_density, feedback_size)
        self.input_size, self.hidden_size, self.state_size = input_size, hidden_size, (hidden_size,)
        self.leak, self.feedback_size = float(leak), feedback_size
        self.spectral_radius, self.density = float(spectral_radius), float(density)
        if generator is None:
            seed = seed if seed is not None else int(torch.randint(2**62, (1,)))   # follows torch.manual_seed
            generator = torch.Generator().manual_seed(seed)
        dtype = dtype or torch.get_default_dtype()

        def uniform(*shape: int) -> Tensor:
            return torch.rand(*shape, generator=generator, dtype=torch.float64) * 2 - 1

        w, rho = _sparse_recurrent(hidden_size, density, uniform, generator)
        w_ih = uniform(hidden_size, input_size)
        w_ih = w_ih * (torch.rand(hidden_size, input_size, generator=generator, dtype=torch.float64)
                       < input_density)
        scale = torch.full((input_size,), float(input_scaling), dtype=torch.float64)
        scale[input_size - feedback_size:] = feedback_scaling
        self.register_buffer("weight_ih", (w_ih * scale).to(dtype))                      # (H, I)
        self.register_buffer("weight_hh", (w * (spectral_radius / rho)).to(dtype))       # (H, H)
        self.register_buffer("bias", (uniform(hidden_size) * bias_scaling).to(dtype))     # (H,)

    @classmethod
    def from_weights(cls, weight_ih: Tensor, weight_hh: Tensor, bias: Tensor | None = None, *,
                     leak: float = 1.0, feedback_size: int = 0) -> ReservoirCell:
        """A cell with the given matrices (e.g. another library's reservoir), used as they are."""
        hidden_size, input_size = weight_ih.shape
        if tuple(weight_hh.shape) != (hidden_size, hidden_size):
            raise ValueError(f"weight_hh must be ({hidden_size}, {hidden_size}) to match weight_ih "
                             f"{tuple(weight_ih.shape)}, got {tuple(weight_hh.shape)}")
        density = float((weight_hh != 0).double().mean())
        rho = spectral_radius(weight_hh)
        _check_options(input_size, hidden_size, rho, max(density, 1e-12), leak, 1.0, feedback_size)
        cell = cls.__new__(cls)
        Cell.__init__(cell)
        cell.input_size, cell.hidden_size, cell.state_size = input_size, hidden_size, (hidden_size,)
        cell.leak, cell.feedback_size = float(leak), feedback_size
        cell.spectral_radius, cell.density = rho, density
        cell.register_buffer("weight_ih", weight_ih.detach().clone())
        cell.register_buffer("weight_hh", weight_hh.detach().to(weight_ih).clone())
        cell.register_buffer("bias", weight_ih.new_zeros(hidden_size) if bias is None
                             else bias.detach().to(weight_ih).reshape(hidden_size).clone())
        return cell

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        (h,) = state                                                          # (B, H)
        z = torch.tanh(F.linear(x, self.weight_ih, self.bias) + F.linear(h, self.weight_hh))
        h = (1 - self.leak) * h + self.leak * z
        return h, (h,)

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """Fast path: the input projection for all steps in one GEMM (hoisted out of the loop),
        then per step one mat-vec, tanh and lerp into a preallocated output. On the CPU the loop
        of small reservoirs is compiled by numba when it is installed (`kernels/reservoir_loop.py`,
        W dense or CSR); otherwise the mat-vec is numpy for small reservoirs, a CSR float matrix for sparse ones,
        dense otherwise (measured in perf-notes section 6)."""
        needs_grad = torch.is_grad_enabled() and (x.requires_grad or state[0].requires_grad)
        if h_mask is not None or needs_grad or x.size(1) == 0:
            return self.reference_scan(x, state, mask, h_mask)
        with torch.no_grad():
            pre = F.linear(x, self.weight_ih, self.bias)                      # (B, T, H)
            if x.device.type == "cpu" and self.hidden_size <= _COMPILED_LOOP_UP_TO and reservoir_loop.available():
                keep = None if mask is None else mask.numpy()
                y = torch.from_numpy(reservoir_loop.reservoir_loop(
                    pre.numpy(), state[0].detach().numpy(), self._compiled_matrix(), self.leak, keep))
            elif x.device.type == "cpu" and self.hidden_size <= _NUMPY_LOOP_UP_TO:
                y = _numpy_loop(pre, state[0], self._numpy_matrix(x.size(0)), self.leak, mask)
            else:
                threads = 1 if x.device.type == "cpu" and self.hidden_size <= _ONE_THREAD_UP_TO \
                    else torch.get_num_threads()
                y = _torch_loop(pre, state[0], self._recurrent_matrix(), self.leak, mask,
                                threads if x.device.type == "cpu" else 0)
        return y, (y[:, -1].clone() if mask is None else _last_valid(y, state[0], mask),)

    def _recurrent_matrix(self) -> Tensor:
        if self.density > _DENSE_ABOVE_DENSITY or self.weight_hh.device.type != "cpu":
            return self.weight_hh
        key = (self.weight_hh.data_ptr(), self.weight_hh._version, self.weight_hh.dtype)
        cache = self.__dict__.get("_csr_cache")              # a derived copy, not state: see STYLE 2
        if cache is None or cache[0] != key:
            with warnings.catch_warnings():                  # "sparse CSR support is in beta"
                warnings.simplefilter("ignore", UserWarning)
                cache = (key, self.weight_hh.to_sparse_csr())
            self.__dict__["_csr_cache"] = cache
        return cache[1]

    def _compiled_matrix(self) -> Any:
        """W for the compiled loop: scipy CSR for sparse reservoirs, else a dense C-order array."""
        key = (self.weight_hh.data_ptr(), self.weight_hh._version, self.weight_hh.dtype)
        cache = self.__dict__.get("_compiled_cache")          # a derived copy, not state: see STYLE 2
        if cache is None or cache[0] != key:
            w = np.ascontiguousarray(self.weight_hh.detach().cpu().numpy())
            if self.density <= _DENSE_ABOVE_DENSITY:
                import scipy.sparse
                w = scipy.sparse.csr_matrix(w)
            cache = (key, w)
            self.__dict__["_compiled_cache"] = cache
        return cache[1]

    def _numpy_matrix(self, batch: int) -> Any:
        """W^T as a dense array (h @ W^T), or, for one sparse sequence, W as scipy CSR (W @ h)."""
        sparse = batch == 1 and self.hidden_size > _SCIPY_CSR_ABOVE and self.density <= _DENSE_ABOVE_DENSITY
        key = (self.weight_hh.data_ptr(), self.weight_hh._version, self.weight_hh.dtype, sparse)
        cache = self.__dict__.get("_numpy_cache")             # a derived copy, not state: see STYLE 2
        if cache is None or cache[0] != key:
            w = self.weight_hh.detach().cpu().numpy()
            if sparse:
                import scipy.sparse
                matrix = scipy.sparse.csr_matrix(w)
            else:
                matrix = w.T.copy()
            cache = (key, matrix)
            self.__dict__["_numpy_cache"] = cache
        return cache[1]

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, spectral_radius={self.spectral_radius:g}, "
                f"density={self.density:g}, leak={self.leak:g}, feedback_size={self.feedback_size}")


def _sparse_recurrent(n: int, density: float, uniform, generator: torch.Generator) -> tuple[Tensor, float]:
    """W with about density * n * n nonzeros U(-1, 1), and its spectral radius. A tiny sparse draw
    can be nilpotent (rho = 0, no cycle), so it is drawn again, deterministically, a few times."""
    for _ in range(100):
        w = uniform(n, n) * (torch.rand(n, n, generator=generator, dtype=torch.float64) < density)
        rho = spectral_radius(w)
        if rho > 1e-12:
            return w, rho
    raise ValueError(f"every random reservoir drawn had spectral radius 0 (density={density:g} is too sparse "
                     f"for {n} units); raise density to at least {2 / n:.3g}")


def _check_options(input_size: int, hidden_size: int, spectral_radius: float, density: float, leak: float,
                   input_density: float, feedback_size: int) -> None:
    if input_size < 0 or hidden_size < 1:
        raise ValueError(f"need input_size >= 0 and hidden_size >= 1, got {input_size}, {hidden_size}")
    if not spectral_radius > 0:
        raise ValueError(f"spectral_radius must be > 0 (typically 0.8 to 1.3), got {spectral_radius}")
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1] (the fraction of nonzero recurrent weights, e.g. 0.1), "
                         f"got {density}")
    if not 0 < input_density <= 1:
        raise ValueError(f"input_density must be in (0, 1], got {input_density}")
    if not 0 < leak <= 1:
        raise ValueError(f"leak must be in (0, 1] (1 = no leaky integration, smaller = slower dynamics), "
                         f"got {leak}")
    if not 0 <= feedback_size <= input_size:
        raise ValueError(f"feedback_size must be in [0, input_size={input_size}] (the fed-back outputs are the "
                         f"last input columns), got {feedback_size}")


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    if n == previous:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _numpy_loop(pre: Tensor, h0: Tensor, matrix: Any, leak: float, mask: Tensor | None) -> Tensor:
    p = pre.cpu().numpy()                                                    # (B, T, H)
    keep = None if mask is None else mask.cpu().numpy()
    h = h0.cpu().numpy().copy()                                              # (B, H)
    out = np.empty_like(p)
    dense = isinstance(matrix, np.ndarray)
    for t in range(p.shape[1]):
        z = h @ matrix if dense else (matrix @ h[0])[None]                   # (B, H)
        z += p[:, t]
        np.tanh(z, out=z)
        new = h + leak * (z - h) if leak != 1.0 else z
        if keep is not None:
            new = np.where(keep[:, t, None], new, h)
            out[:, t] = new * keep[:, t, None]
        else:
            out[:, t] = new
        h = new
    return torch.from_numpy(out).to(pre.device)


def _torch_loop(pre: Tensor, h0: Tensor, weight: Tensor, leak: float, mask: Tensor | None,
                threads: int = 0) -> Tensor:
    """The state loop in torch ops. On the CPU with threads > 1 the thread count is chosen by timing
    (`_adaptive`); threads = 0 leaves torch's setting alone (GPUs)."""
    # Columns are batch entries: (T, H, B), so a CSR W multiplies from the left (W h), and with
    # B = 1 every step is one addmv on contiguous vectors.
    pre_t = pre.permute(1, 2, 0).contiguous()                                # (T, H, B)
    out = torch.empty_like(pre_t)
    h = h0.t().contiguous()                                                  # (H, B)
    z = torch.empty_like(h)
    vector = pre_t.size(2) == 1
    keep = None if mask is None else mask.t()[:, None, :]                    # (T, 1, B)

    def run(start: int, stop: int) -> None:
        nonlocal h
        for t in range(start, stop):
            if vector:
                torch.addmv(pre_t[t, :, 0], weight, h[:, 0], out=z[:, 0])
            else:
                torch.addmm(pre_t[t], weight, h, out=z)
            z.tanh_()
            if keep is None:
                torch.lerp(h, z, leak, out=out[t])
                h = out[t]
            else:
                h = torch.where(keep[t], torch.lerp(h, z, leak), h)
                out[t] = h * keep[t]

    if threads > 1:
        _adaptive(pre_t.size(0), run, threads)
    elif threads == 1:
        with _threads(1):
            run(0, pre_t.size(0))
    else:
        run(0, pre_t.size(0))
    return out.permute(2, 0, 1).contiguous()                                 # (B, T, H)


def _adaptive(steps: int, run: Any, threads: int, clock: Any = None) -> list[int]:
    """Runs run(start, stop) over [0, steps), every _REPROBE_EVERY steps timing _PROBE_STEPS steps on
    `threads` threads and as many on one, and going on with the faster (an OpenMP step waits for
    every thread, so one descheduled thread stalls them all). Each row of a mat-vec is summed by one
    thread, so the thread count does not change the results. Returns the thread count of each stretch."""
    clock = clock or time.perf_counter
    t, chosen, best = 0, [], threads
    while t < steps:
        if steps - t > 4 * _PROBE_STEPS:                # too short a rest to probe: keep the last choice
            seconds = {}
            for n in (threads, 1):
                with _threads(n):
                    start = clock()
                    run(t, t + _PROBE_STEPS)
                    seconds[n] = clock() - start
                t += _PROBE_STEPS
            best = min(seconds, key=seconds.__getitem__)
        stop = min(steps, t + _REPROBE_EVERY)
        with _threads(best):
            run(t, stop)
        chosen.append(best)
        t = stop
    return chosen


def _last_valid(y: Tensor, h0: Tensor, mask: Tensor) -> Tensor:
    lengths = mask.sum(1)                                                    # (B,)
    last = y[torch.arange(y.size(0), device=y.device), (lengths - 1).clamp(min=0)]
    return torch.where((lengths > 0)[:, None], last, h0)
