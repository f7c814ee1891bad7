"""CTCModel: a Deep Speech-style acoustic model (Hannun et al. 2014) trained with CTC (Graves et
al. 2006).

    x_t = (features_t - mean) / std                    (B, T, I), the training split's statistics
    h_t = front(x)                                     (B, T', F): per-frame dense layers, or a conv
    y, state = rnn(h, lengths=front lengths)           (B, T', H); any Stacked, (bi)directional
    log p(c | t) = log_softmax(W y_t + b)              (B, T', C), C = characters + blank (id 0)

Deep Speech's layers 1-3 are dense per frame with the clipped ReLU g(z) = min(max(z, 0), 20)
(Hannun et al. 2014, eq. 1); `ConvFront` is the small alternative: a causal convolution over time
with a stride, which also shortens the sequence the recurrent stack has to run over (as Deep
Speech 2's strided first layer, Amodei et al. 2016, section 3.6). Both fronts only look back, so
a unidirectional model runs a long input chunk by chunk with the carried state and gets the
frames the whole input would (see `CTCModel.forward`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..layers import Bidirectional, LockedDropout
from .classifier import add_standardization, standardized
from .ctc_decode import CTCDecoder


class ClippedReLU(nn.Module):
    """g(z) = min(max(z, 0), clip): Deep Speech's activation (Hannun et al. 2014, eq. 1)."""

    def __init__(self, clip: float = 20.0) -> None:
        super().__init__()
        if clip <= 0:
            raise ValueError(f"clip must be > 0, got {clip}")
        self.clip = clip

    def forward(self, x: Tensor) -> Tensor:
        return x.clamp(0.0, self.clip)

    def extra_repr(self) -> str:
        return f"clip={self.clip}"


class DenseFront(nn.Module):
    """Per-frame dense layers h = g(W x_t + b) with dropout after each: (B, T, I) -> (B, T, F).
    No state: each frame is its own input. `sizes` = [] passes the features through."""

    stride = 1

    def __init__(self, input_size: int, sizes: Sequence[int], *, clip: float = 20.0, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for size in sizes:
            layers += [nn.Linear(input_size, size), ClippedReLU(clip), nn.Dropout(dropout)]
            input_size = size
        self.layers, self.output_size = nn.Sequential(*layers), input_size

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        return self.layers(x), None

    def output_lengths(self, lengths: Tensor) -> Tensor:
        return lengths


class ConvFront(nn.Module):
    """A causal 1-D convolution over time, clipped ReLU, dropout: (B, T, I) -> (B, ceil(T / s), F).

    Output frame j sees input frames j s - k + 1 .. j s (zeros before the start), so padding after
    a sequence never reaches its valid outputs. The state is the last k - 1 input frames: fed
    back with the next chunk (whose length is a multiple of s), it gives the frames the
    uninterrupted input would."""

    def __init__(self, input_size: int, size: int, *, kernel: int = 5, stride: int = 2, clip: float = 20.0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if kernel < 1 or not 1 <= stride <= kernel:
            raise ValueError(f"a conv front needs kernel >= 1 and 1 <= stride <= kernel, got {kernel}, {stride}")
        self.conv = nn.Conv1d(input_size, size, kernel, stride=stride)
        self.act, self.dropout = ClippedReLU(clip), nn.Dropout(dropout)
        self.kernel, self.stride, self.output_size = kernel, stride, size

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if state is None:
            state = x.new_zeros(x.size(0), self.kernel - 1, x.size(2))            # causal left padding
        x = torch.cat([state, x], dim=1)                                          # (B, k - 1 + T, I)
        y = self.conv(x.transpose(1, 2)).transpose(1, 2)                          # (B, ceil(T / s), F)
        return self.dropout(self.act(y)), x[:, x.size(1) - (self.kernel - 1):]

    def output_lengths(self, lengths: Tensor) -> Tensor:
        return torch.div(lengths + self.stride - 1, self.stride, rounding_mode="floor")


class CTCModel(nn.Module):
    """(B, T, I) features -> ((B, T', C) per-frame log-probabilities, state). Class 0 is the CTC
    blank. State = (front state, rnn state); pass it back with the next chunk of the same input
    to stream (unidirectional rnns only: see `streamable`). `decoder`, when given, is how the
    outputs read as text (its alphabet, word lm and lexicon): what a task's metrics decode with.
    It is built from the run's metadata, never saved with the weights."""

    def __init__(self, front: nn.Module, rnn: nn.Module, num_classes: int, *, input_size: int,
                 input_dropout: float = 0.0, output_dropout: float = 0.0, feature_mean: Tensor | None = None,
                 feature_std: Tensor | None = None, decoder: CTCDecoder | None = None) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a CTC model needs the blank and at least one character, got {num_classes} classes")
        if front.output_size != rnn.input_size:
            raise ValueError(f"the front outputs {front.output_size} features but the rnn expects {rnn.input_size}")
        if decoder is not None and len(decoder.alphabet) != num_classes:
            raise ValueError(f"the decoder's alphabet has {len(decoder.alphabet)} classes (blank included), the "
                             f"model {num_classes}")
        self.input_size, self.num_classes, self.decoder = input_size, num_classes, decoder
        add_standardization(self, feature_mean, feature_std)
        self.input_dropout, self.output_dropout = LockedDropout(input_dropout), LockedDropout(output_dropout)
        self.front, self.rnn = front, rnn
        self.head = nn.Linear(rnn.output_size, num_classes)

    @property
    def streamable(self) -> bool:
        """True when no layer looks ahead in time (no bidirectional layer)."""
        return not any(isinstance(m, Bidirectional) for m in self.rnn.modules())

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """Valid output frames for `lengths` valid input frames (the front's stride)."""
        return self.front.output_lengths(lengths)

    def forward(self, x: Tensor, state: tuple | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, tuple]:
        if x.dim() != 3 or x.size(2) != self.input_size:
            raise ValueError(f"expected (batch, time, {self.input_size}) features, got shape {tuple(x.shape)}")
        front_state, rnn_state = (None, None) if state is None else state
        x = self.input_dropout(standardized(self, x))
        h, front_state = self.front(x, front_state)                               # (B, T', F)
        out_lengths = None if lengths is None else self.output_lengths(lengths).clamp_max(h.size(1))
        y, rnn_state = self.rnn(h, rnn_state, out_lengths)                        # (B, T', H)
        logits = self.head(self.output_dropout(y))                                # (B, T', C)
        if logits.dtype in (torch.float16, torch.bfloat16):                      # CTC wants float (AMP)
            logits = logits.float()
        return logits.log_softmax(-1), (front_state, rnn_state)
