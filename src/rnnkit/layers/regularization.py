"""Regularisers for recurrent networks, each composed around a cell or a weight, never mixed in.

- `Zoneout(cell, p)`: a cell wrapper (Krueger et al. 2016).
- `RecurrentDropout(cell, p)`: variational dropout on h where it enters W_hh, one mask per
  sequence (Gal & Ghahramani 2016).
- `DropConnect(p)` / `weight_drop(cell, p)`: a parametrization of W_hh (Wan et al. 2013;
  AWD-LSTM's weight drop, Merity et al. 2017). `Recurrent` caches it, so one mask per sequence.
- `LockedDropout(p)`: variational dropout on a (B, T, H) tensor, one mask per sequence
  broadcast over time (Gal & Ghahramani 2016; Merity et al. 2017).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..cells.base import Cell, State
from ..kernels import bernoulli, bptt_loop


def check_probability(name: str, p: float) -> float:
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), got {p!r}")
    return float(p)


def keep_mask(like: Tensor, p: float) -> Tensor:
    """Bernoulli(1 - p) mask scaled by 1 / (1 - p) (inverted dropout), shaped like `like`."""
    return torch.empty_like(like).bernoulli_(1.0 - p) / (1.0 - p)


class _Wrapper(Cell):
    """A cell around a cell: same sizes, same state layout."""

    def __init__(self, cell: Cell) -> None:
        super().__init__()
        if not isinstance(cell, Cell):
            raise TypeError(f"expected an rnnkit Cell, got {type(cell).__name__}")
        self.cell = cell
        self.input_size, self.hidden_size = cell.input_size, cell.hidden_size
        self.state_size = cell.state_size

    def reset_parameters(self) -> None:
        self.cell.reset_parameters()


class Zoneout(_Wrapper):
    """Zoneout (Krueger et al. 2016): each unit of each state component keeps its previous
    value with probability p, independently at every step:

        s_t = d_t ⊙ s_{t-1} + (1 - d_t) ⊙ cell(x_t, s_{t-1}),   d_t ~ Bernoulli(p)

    In evaluation d_t is replaced by its expectation p. `p` applies to h, `p_c` to an LSTM's c
    (default: the same as p). The output is the zoned-out h.
    """

    def __init__(self, cell: Cell, p: float, *, p_c: float | None = None) -> None:
        super().__init__(cell)
        if isinstance(cell, RecurrentDropout):
            raise TypeError("put RecurrentDropout outside Zoneout: RecurrentDropout(Zoneout(cell, p), q)")
        self.p = check_probability("zoneout p", p)
        self.p_c = self.p if p_c is None else check_probability("zoneout p_c", p_c)

    def probabilities(self) -> tuple[float, ...]:
        return (self.p, self.p_c)[: len(self.state_size)]

    def keep_old(self, state: State, steps: int) -> tuple[Tensor | float, ...]:
        """Per state component: the weight d of the previous value, (B, T, n) Bernoulli draws
        in training, the scalar p in evaluation. One call draws all T masks (on the CPU from a
        counter-based generator seeded by torch's, as bool: one byte a draw, see `kernels.draws`)."""
        if not self.training:
            return self.probabilities()
        return tuple(bernoulli((s.size(0), steps, s.size(1)), p, s, bits=True)
                     for s, p in zip(state, self.probabilities()))

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One step with fresh masks (or the expectation in evaluation)."""
        keep = tuple(k if isinstance(k, float) else k[:, 0] for k in self.keep_old(state, 1))
        return self._zoneout(self.cell.step(x, state)[1], state, keep)

    def recurrent_step(self, x: Tensor, state: State, h_in: Tensor) -> tuple[Tensor, State]:
        keep = tuple(k if isinstance(k, float) else k[:, 0] for k in self.keep_old(state, 1))
        return self._zoneout(self.cell.recurrent_step(x, state, h_in)[1], state, keep)

    @staticmethod
    def _zoneout(new: State, old: State, keep: tuple[Tensor | float, ...]) -> tuple[Tensor, State]:
        keep = tuple(k if isinstance(k, float) else k.to(n.dtype) for k, n in zip(keep, new))   # bool draws
        state = tuple(torch.lerp(n, o, k) for n, o, k in zip(new, old, keep))
        return state[0], state

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        keep = self.keep_old(state, x.size(1))
        # the cell's hand-written BPTT loop (`Cell.bptt_kernel`); None when it has none
        out = bptt_loop(self.cell, x, state, mask=mask, h_mask=h_mask, zoneout=keep)
        return out if out is not None else self._loop(x, state, mask, h_mask, keep)

    def reference_scan(self, x: Tensor, state: State, mask: Tensor | None = None,
                       h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        return self._loop(x, state, mask, h_mask, self.keep_old(state, x.size(1)))

    def _loop(self, x: Tensor, state: State, mask: Tensor | None, h_mask: Tensor | None,
              keep: tuple[Tensor | float, ...]) -> tuple[Tensor, State]:
        ys = []
        for t, x_t in enumerate(x.unbind(1)):
            keep_t = tuple(k if isinstance(k, float) else k[:, t] for k in keep)
            if h_mask is None:
                _, new = self.cell.step(x_t, state)
            else:
                _, new = self.cell.recurrent_step(x_t, state, state[0] * h_mask)
            y, new = self._zoneout(new, state, keep_t)
            if mask is not None:
                valid = mask[:, t, None]                                      # (B, 1)
                new = tuple(torch.where(valid, n, s) for n, s in zip(new, state))
                y = y * valid
            ys.append(y)
            state = new
        if not ys:
            return x.new_zeros(x.size(0), 0, self.hidden_size), state
        return torch.stack(ys, dim=1), state                                  # (B, T, H)

    def extra_repr(self) -> str:
        return f"p={self.p}, p_c={self.p_c}"


class RecurrentDropout(_Wrapper):
    """Variational recurrent dropout (Gal & Ghahramani 2016, "A Theoretically Grounded
    Application of Dropout in Recurrent Neural Networks"): h is multiplied by a dropout mask
    where it enters the recurrent product, W_hh (h ⊙ m / (1 - p)), with one mask per sequence
    kept fixed over time. The state itself (and GRU's carry z ⊙ h) is not dropped. Identity in
    evaluation. A single `step` outside a sequence draws a fresh mask.
    """

    def __init__(self, cell: Cell, p: float) -> None:
        super().__init__(cell)
        self.p = check_probability("recurrent dropout p", p)

    def _mask(self, state: State, h_mask: Tensor | None) -> Tensor | None:
        if not self.training or self.p == 0.0:
            return h_mask
        mask = keep_mask(state[0], self.p)                                    # (B, H)
        return mask if h_mask is None else mask * h_mask

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        h_mask = self._mask(state, None)
        if h_mask is None:
            return self.cell.step(x, state)
        return self.cell.recurrent_step(x, state, state[0] * h_mask)

    def recurrent_step(self, x: Tensor, state: State, h_in: Tensor) -> tuple[Tensor, State]:
        h_mask = self._mask(state, None)
        return self.cell.recurrent_step(x, state, h_in if h_mask is None else h_in * h_mask)

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        return self.cell.scan(x, state, mask, self._mask(state, h_mask))

    def reference_scan(self, x: Tensor, state: State, mask: Tensor | None = None,
                       h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        return self.cell.reference_scan(x, state, mask, self._mask(state, h_mask))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class DropConnect(nn.Module):
    """DropConnect (Wan et al. 2013) as a parametrization: W -> W ⊙ M / (1 - p) in training.
    On W_hh this is AWD-LSTM's weight drop (Merity et al. 2017). The mask is shared by the
    whole batch, so the layer keeps torch's fused kernel; `Recurrent` runs the sequence inside
    `parametrize.cached()`, so one mask is drawn per sequence."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = check_probability("DropConnect p", p)

    def forward(self, weight: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return weight
        return weight * keep_mask(weight, self.p)


def weight_drop(cell: Cell, p: float, *, name: str = "weight_hh") -> Cell:
    """Registers DropConnect(p) on `cell.<name>` (default W_hh) and returns the cell."""
    parametrize.register_parametrization(cell, name, DropConnect(p))
    return cell


class LockedDropout(nn.Module):
    """Variational ("locked") dropout on x: (B, T, H): one (B, 1, H) mask per sequence,
    the same at every step (Gal & Ghahramani 2016; Merity et al. 2017)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = check_probability("LockedDropout p", p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * keep_mask(x[:, :1], self.p)                                # (B, 1, H) mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
