"""SequenceClassifier: (token ids -> embedding | standardised features) -> recurrent stack ->
pooling over valid steps (rnnkit.layers.pooling) -> dropout -> linear layer -> class logits.

    x_t = Embed(token_t)   or   x_t = (features_t - mean) / std   [then [x_t, Δx_t]: layers.Differences]
    y, state = rnn(x, lengths=lengths)                 (B, T, H); any Stacked, (bi)directional
    p = pooling(y, lengths)                            (B, H); last / max / mean / attention
    logits = W dropout(p) + b                          (B, C)

`class_weight` (C,), if given, is what the task's loss weighs each class by: a buffer that is not
saved with the weights (the run's meta.json holds it), so it moves to the model's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..layers import LockedDropout
from ..layers.pooling import AttentionPooling


class SequenceClassifier(nn.Module):
    """Text (vocab_size > 0: (B, T) ids) or feature sequences ((B, T, I) floats) -> (logits, state)."""

    def __init__(self, rnn: nn.Module, pooling: nn.Module, num_classes: int, *, vocab_size: int = 0,
                 embedding_size: int = 0, dropout: float = 0.0, input_dropout: float = 0.0,
                 feature_mean: Tensor | None = None, feature_std: Tensor | None = None,
                 class_weight: Tensor | None = None, differences: nn.Module | None = None) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
        if class_weight is not None and tuple(class_weight.shape) != (num_classes,):
            raise ValueError(f"class_weight needs one weight per class ({num_classes}), got shape "
                             f"{tuple(class_weight.shape)}")
        if vocab_size and rnn.input_size != embedding_size:
            raise ValueError(f"the rnn expects {rnn.input_size} inputs but embedding_size is {embedding_size}")
        if getattr(pooling, "size", rnn.output_size) != rnn.output_size:
            raise ValueError(f"the pooling is for {pooling.size} features but the rnn outputs {rnn.output_size}")
        if differences is not None and (vocab_size or rnn.input_size % 2):
            raise ValueError("differences are for feature sequences, and the rnn then reads twice the features "
                             f"(an even input size); got vocab_size {vocab_size}, rnn input size {rnn.input_size}")
        self.num_classes = num_classes
        self.input_size = rnn.input_size // 2 if differences is not None else rnn.input_size
        self.embedding = nn.Embedding(vocab_size, embedding_size) if vocab_size else None
        add_standardization(self, feature_mean, feature_std)
        self.differences = differences
        self.input_dropout = LockedDropout(input_dropout)
        self.rnn, self.pooling = rnn, pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(getattr(pooling, "output_size", rnn.output_size), num_classes)
        weight = None if class_weight is None else class_weight.detach().clone().float()
        self.register_buffer("class_weight", weight, persistent=False)

    def inputs(self, x: Tensor) -> Tensor:
        """(B, T) ids -> (B, T, E), or (B, T, I) features standardised [and their differences: (B, T, 2I)]."""
        if self.embedding is not None:
            if x.dim() != 2 or x.is_floating_point():
                raise ValueError(f"expected (batch, time) token ids, got {x.dtype} of shape {tuple(x.shape)}")
            return self.embedding(x)
        if x.dim() != 3 or x.size(2) != self.input_size:
            raise ValueError(f"expected (batch, time, {self.input_size}) features, got shape {tuple(x.shape)}")
        x = standardized(self, x)
        return x if self.differences is None else self.differences(x)

    def forward(self, x: Tensor, state: tuple | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, tuple]:
        y, state = self.rnn(self.input_dropout(self.inputs(x)), state, lengths)    # (B, T, H)
        pooled = self.pooling(y, lengths)                                          # (B, H)
        return self.head(self.dropout(pooled)), state                              # (B, C)

    def scores(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """(logits (B, C), attention-pooling weights (B, T) or None without attention pooling) in
        one pass: what a prediction shows."""
        y, _ = self.rnn(self.input_dropout(self.inputs(x)), None, lengths)         # (B, T, H)
        if isinstance(self.pooling, AttentionPooling):
            pooled, weights = self.pooling.weighted(y, lengths)                    # (B, H), (B, T)
        else:
            pooled, weights = self.pooling(y, lengths), None
        return self.head(self.dropout(pooled)), weights

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Bottom to top: the embedding (text models), each recurrent layer, then the pooling and
        the head: what discriminative rates and gradual unfreezing act on (Howard & Ruder 2018)."""
        layers = list(self.rnn.layers) if hasattr(self.rnn, "layers") else [self.rnn]
        groups = [list(self.embedding.parameters())] if self.embedding is not None else []
        groups += [list(layer.parameters()) for layer in layers]
        groups.append([*self.pooling.parameters(), *self.head.parameters()])
        return [group for group in groups if group]

    def attention(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The attention-pooling weights (B, T) of each step (0 on padding)."""
        if not isinstance(self.pooling, AttentionPooling):
            raise ValueError(f"this classifier pools with {type(self.pooling).__name__}, not attention")
        y, _ = self.rnn(self.inputs(x), None, lengths)
        return self.pooling.weighted(y, lengths)[1]


def add_standardization(module: nn.Module, mean: Tensor | None, std: Tensor | None) -> None:
    """Registers per-feature `feature_mean` and `feature_std` buffers on `module` (if given):
    saved with the weights, so a run's model standardises new data without its training set."""
    if (mean is None) != (std is None):
        raise ValueError("give both feature_mean and feature_std, or neither")
    if mean is not None:
        module.register_buffer("feature_mean", mean.detach().clone())
        module.register_buffer("feature_std", std.detach().clone().clamp_min(1e-8))


def standardized(module: nn.Module, x: Tensor) -> Tensor:
    """(x - feature_mean) / feature_std with `module`'s buffers, or x if it has none."""
    if hasattr(module, "feature_mean"):
        return (x - module.feature_mean) / module.feature_std
    return x


def copy_embeddings(embedding: nn.Embedding, tokens: Sequence[str], source: nn.Embedding,
                    source_tokens: Sequence[str]) -> int:
    """Starts `embedding` (rows named by `tokens`) from a trained one (e.g. a language model's
    on the same texts; Dai & Le 2015): the rows of tokens both vocabularies hold are copied, the
    others keep their initialisation. Returns how many rows were copied."""
    if embedding.embedding_dim != source.embedding_dim:
        raise ValueError(f"the classifier's embeddings have {embedding.embedding_dim} dimensions but the source's "
                         f"have {source.embedding_dim}; set task.embedding_size = {source.embedding_dim}")
    where = {t: i for i, t in enumerate(source_tokens)}
    pairs = [(i, where[t]) for i, t in enumerate(tokens) if t in where]
    if pairs:
        to, fro = (torch.tensor(index) for index in zip(*pairs))
        with torch.no_grad():
            embedding.weight[to] = source.weight[fro].to(embedding.weight)
    return len(pairs)
