"""The README's main job until the language-modelling task lands: build a stacked LSTM with an
output layer, run a padded batch through it, and fit it to predict a noisy sine wave."""

from __future__ import annotations

import math
import time

import torch

from .cells import LSTMCell
from .layers import Readout, Recurrent, Stacked


def main() -> None:
    torch.manual_seed(0)
    hidden = 64
    rnn = Stacked([Recurrent(LSTMCell(1, hidden)),
                   Recurrent(LSTMCell(hidden, hidden), readout=Readout(hidden, 1))], dropout=0.1)
    t = torch.linspace(0, 16 * math.pi, 401)
    phases = torch.rand(32, 1) * 2 * math.pi
    series = torch.sin(t[None, :] + phases) + 0.05 * torch.randn(32, 401)    # (B, T + 1)
    x, target = series[:, :-1, None], series[:, 1:, None]                    # (B, T, 1) each
    lengths = torch.randint(200, 401, (32,))
    y, state = rnn(x, lengths=lengths)
    print(f"model: {sum(p.numel() for p in rnn.parameters())} parameters; y {tuple(y.shape)}, "
          f"state: {len(state)} layers of (h, c) {tuple(state[0][0].shape)}")
    optimizer = torch.optim.Adam(rnn.parameters(), lr=1e-2)
    start = time.perf_counter()
    for iteration in range(1, 151):
        y, _ = rnn(x)
        loss = torch.nn.functional.mse_loss(y, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(rnn.parameters(), 1.0)
        optimizer.step()
        if iteration % 30 == 0:
            print(f"iteration {iteration:3d}  one-step-ahead MSE {loss.item():.4f}")
    print(f"trained in {time.perf_counter() - start:.1f} s (noise floor MSE = {0.05 ** 2 * 2:.4f})")


if __name__ == "__main__":
    main()
