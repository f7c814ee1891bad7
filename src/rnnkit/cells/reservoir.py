"""The echo state network's reservoir: a fixed random recurrence (Jaeger 2001)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..kernels.reservoir import echo_state_scan
from .base import Cell, State

_EXACT_EIGENVALUES_UP_TO = 200  # above this, an iterative eigensolver (ARPACK) finds rho(W)


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
        """Fast path without gradients: `kernels.reservoir.echo_state_scan`, the input projection
        for all steps in one GEMM (hoisted out of the loop), then per step one mat-vec, tanh and
        lerp, by a numba, numpy or torch loop chosen by size. With gradients or recurrent dropout,
        the reference loop."""
        needs_grad = torch.is_grad_enabled() and (x.requires_grad or state[0].requires_grad)
        if h_mask is not None or needs_grad or x.size(1) == 0:
            return self.reference_scan(x, state, mask, h_mask)
        return echo_state_scan(self, x, state[0], mask)

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
