"""LanguageModel: token embedding -> any stack of recurrent layers -> projection onto the vocabulary.

    e_t = Embed(x_t)                     (embedding dropout drops whole words; Gal & Ghahramani 2016)
    y_t, state = rnn(LockedDropout(e))   (any Stacked / Recurrent; its own dropout between layers)
    logits_t = W_out LockedDropout(y_t) + b_out     (W_out = Embed.weight when tied)

The AWD-LSTM recipe (Merity et al. 2017) is this model with weight_drop cells in `rnn`, locked
dropout on input/hidden/output, embedding dropout and tied weights; its loss-side parts (AR/TAR)
and random BPTT lengths live in the language-modelling task.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import LockedDropout
from ..layers.regularization import check_probability, keep_mask


class LanguageModel(nn.Module):
    """Next-token model over a vocabulary of `vocab_size`; forward returns (logits, state)."""

    def __init__(self, vocab_size: int, rnn: nn.Module, *, embedding_size: int, tie_weights: bool = False,
                 embedding_dropout: float = 0.0, input_dropout: float = 0.0, output_dropout: float = 0.0,
                 init_range: float | None = None) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
        if rnn.input_size != embedding_size:
            raise ValueError(f"the rnn expects {rnn.input_size} input features but embedding_size is "
                             f"{embedding_size}; build the rnn with input_size={embedding_size}")
        hidden_size = rnn.output_size
        if tie_weights and hidden_size != embedding_size:
            raise ValueError(f"tie_weights needs the rnn's output size == embedding_size, got {hidden_size} "
                             f"!= {embedding_size}; set model.embedding_size={hidden_size} or tie_weights=false")
        check_memory(vocab_size, embedding_size, hidden_size, tie_weights)
        self.vocab_size, self.embedding_size = vocab_size, embedding_size
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = rnn
        self.decoder = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight       # Press & Wolf 2017; Inan et al. 2017
        self.embedding_dropout = check_probability("embedding_dropout", embedding_dropout)
        self.input_dropout = LockedDropout(input_dropout)
        self.output_dropout = LockedDropout(output_dropout)
        if init_range is not None:                           # Zaremba et al. 2014: U(-0.1, 0.1) everywhere
            with torch.no_grad():
                for p in self.parameters():
                    p.uniform_(-init_range, init_range)

    @property
    def tied(self) -> bool:
        return self.decoder.weight is self.embedding.weight

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Bottom to top: the embedding, each recurrent layer, the decoder (its bias alone when
        tied): what discriminative rates act on when a pretrained model is fine-tuned (Howard &
        Ruder 2018)."""
        layers = list(self.rnn.layers) if hasattr(self.rnn, "layers") else [self.rnn]
        top = [p for p in self.decoder.parameters() if p is not self.embedding.weight]
        return [[self.embedding.weight], *(list(layer.parameters()) for layer in layers), top]

    def embed(self, tokens: Tensor) -> Tensor:
        """(B, T) ids -> (B, T, E). In training, embedding dropout removes whole words (rows of
        the embedding matrix) with probability p, scaled by 1 / (1 - p) (Gal & Ghahramani 2016)."""
        weight = self.embedding.weight
        if self.training and self.embedding_dropout > 0:
            weight = weight * keep_mask(weight[:, :1], self.embedding_dropout)        # (V, 1) mask
        return F.embedding(tokens, weight)

    def hidden(self, tokens: Tensor, state: tuple | None = None) -> tuple[Tensor, tuple]:
        """(B, T) ids -> top-layer outputs (B, T, H) before output dropout, and the new state."""
        if tokens.dim() != 2:
            raise ValueError(f"expected (batch, time) token ids, got shape {tuple(tokens.shape)}")
        x = self.input_dropout(self.embed(tokens))                                # (B, T, E)
        return self.rnn(x, state)

    def forward(self, tokens: Tensor, state: tuple | None = None) -> tuple[Tensor, tuple]:
        y, state = self.hidden(tokens, state)
        return self.decoder(self.output_dropout(y)), state                        # (B, T, H) -> (B, T, V)


def check_memory(vocab_size: int, embedding_size: int, hidden_size: int, tie_weights: bool) -> None:
    """Refuses a vocabulary whose embedding + output layer (with gradients and optimiser state,
    about 4 copies) would need more than half of this machine's memory."""
    floats = vocab_size * (embedding_size + (0 if tie_weights else hidden_size))
    need = 4 * 4 * floats
    total = _physical_memory()
    if total and need > total / 2:
        raise ValueError(f"a vocabulary of {vocab_size:,} tokens needs about {need / 2**30:.1f} GiB for its "
                         f"embedding and output layers in training, more than half of this machine's "
                         f"{total / 2**30:.1f} GiB; cap it (task.max_vocab / task.min_count) or use "
                         "task.level = \"bpe\"")


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None

