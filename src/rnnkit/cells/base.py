"""The cell contract: one time step of a recurrence, state in and state out."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..kernels import BPTTKernel

State = tuple[Tensor, ...]  # (h,) or (h, c); each (B, H). h always comes first.


class Cell(nn.Module):
    """One recurrence step. Subclasses set the sizes and implement `step`.

    `scan` is the readable reference loop over time. Subclasses may override it with a fast
    path (a fused torch kernel, a hand-written BPTT, a parallel scan); every override is
    tested against `Cell.scan(cell, ...)`.

    `bptt_kernel` names the cell's hand-written BPTT loop in `rnnkit.kernels` (None: it has
    none), run by `kernels.bptt_loop` from `scan` and from wrappers such as `Zoneout`. It is
    inherited, so a subclass that changes the step's math must set it back to None.
    """

    input_size: int
    hidden_size: int
    state_size: tuple[int, ...]  # (H,) or (H, H)
    bptt_kernel: ClassVar[BPTTKernel | None] = None

    def add_gate_parameters(self, gates: int, *, bias: bool, recurrent: bool = True) -> None:
        """Registers torch's parameters for `gates` stacked gates: weight_ih (G*H, I), and when
        `recurrent`, weight_hh (G*H, H); with `bias`, bias_ih (and bias_hh) of G*H."""
        rows = gates * self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, self.input_size))
        self.bias_ih = nn.Parameter(torch.empty(rows)) if bias else None
        if recurrent:
            self.weight_hh = nn.Parameter(torch.empty(rows, self.hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(rows)) if bias else None

    def reset_parameters(self) -> None:
        """torch's default: U(-1/sqrt(H), 1/sqrt(H)) for every parameter (see cells.init)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def initial_state(self, x: Tensor) -> State:
        """Zeros on x's device and dtype, one (B, n) tensor per state component."""
        return tuple(x.new_zeros(x.size(0), n) for n in self.state_size)

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """x: (B, I) -> y: (B, H), next state."""
        raise NotImplementedError

    def recurrent_step(self, x: Tensor, state: State, h_in: Tensor) -> tuple[Tensor, State]:
        """One step in which the recurrent products see `h_in` instead of the state's h (used
        by recurrent dropout). The default suits cells whose h enters only through W_hh;
        cells that also carry h directly (GRU) override it."""
        return self.step(x, (h_in, *state[1:]))

    def scan(self, x: Tensor, state: State, mask: Tensor | None = None,
             h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """Runs the cell over x: (B, T, I) -> y: (B, T, H), final state.

        mask (B, T): where False the state is carried over unchanged and y is zero.
        h_mask (B, H): recurrent dropout mask, fixed over time, applied to h where it enters
        the recurrent product (Gal & Ghahramani 2016). Fast paths override this method and
        are tested against `reference_scan`."""
        return self.reference_scan(x, state, mask, h_mask)

    def reference_scan(self, x: Tensor, state: State, mask: Tensor | None = None,
                       h_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """The readable loop: one `step` per time step."""
        ys = []
        # unbind, not x[:, t]: indexing a tensor that needs grad makes backward quadratic in T
        # (each SelectBackward materialises a full-size zero tensor; perf-notes section 3).
        steps = x.unbind(1)
        keeps = mask.unbind(1) if mask is not None else [None] * len(steps)
        for x_t, keep in zip(steps, keeps):
            if h_mask is None:
                y, new = self.step(x_t, state)
            else:
                y, new = self.recurrent_step(x_t, state, state[0] * h_mask)
            if keep is not None:
                keep = keep[:, None]                                          # (B, 1)
                new = tuple(torch.where(keep, n, s) for n, s in zip(new, state))
                y = y * keep
            ys.append(y)
            state = new
        if not ys:
            return x.new_zeros(x.size(0), 0, self.output_size), state
        return torch.stack(ys, dim=1), state                                  # (B, T, H)

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"
