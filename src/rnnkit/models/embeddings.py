"""Queries on a language model's trained input embeddings: nearest words, analogies, a PCA projection.

    nearest(model, vocab, "king", k=10)           # [(word, cosine similarity), ...]
    analogy(model, vocab, "man", "king", "woman")  # a : b :: c : ?  via b - a + c (Mikolov et al. 2013)
    words, xy = pca_points(model, vocab, count=300)  # the most frequent tokens on 2 principal components

The drawing of `pca_points` is `rnnkit.plots.embeddings.plot_pca(xy, words, path)`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..data.text import EOS, UNK, UNK_CHAR, Vocab

_SPECIAL = (UNK, EOS, UNK_CHAR)


def embedding_matrix(model: nn.Module) -> Tensor:
    """(V, E) unit-length rows of the model's input embedding."""
    weight = model.embedding.weight.detach().float()
    return weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _index(vocab: Vocab, word: str) -> int:
    if word not in vocab.index:
        close = [t for t in vocab.tokens if t.lower().startswith(word.lower()[:3])][:5]
        hint = f"; similar tokens in it: {close}" if close else ""
        raise ValueError(f"{word!r} is not in the vocabulary ({len(vocab)} tokens){hint}")
    return vocab.index[word]


def nearest_to(vectors: Tensor, query: Tensor, vocab: Vocab, *, k: int, exclude: set[int]) -> list[tuple[str, float]]:
    sims = vectors @ (query / query.norm().clamp_min(1e-12))                       # (V,)
    for i in exclude | {vocab.index[t] for t in _SPECIAL if t in vocab.index}:
        sims[i] = float("-inf")
    top = sims.topk(min(k, int(torch.isfinite(sims).sum())))
    return [(vocab.tokens[i], float(s)) for i, s in zip(top.indices.tolist(), top.values)]


def nearest(model: nn.Module, vocab: Vocab, word: str, *, k: int = 10) -> list[tuple[str, float]]:
    """The k tokens whose input embeddings have the highest cosine similarity to `word`'s."""
    vectors, i = embedding_matrix(model), _index(vocab, word)
    return nearest_to(vectors, vectors[i], vocab, k=k, exclude={i})


def analogy(model: nn.Module, vocab: Vocab, a: str, b: str, c: str, *, k: int = 5) -> list[tuple[str, float]]:
    """a : b :: c : ?, answered by the tokens nearest to b - a + c (3CosAdd), excluding a, b, c."""
    vectors = embedding_matrix(model)
    ia, ib, ic = (_index(vocab, w) for w in (a, b, c))
    return nearest_to(vectors, vectors[ib] - vectors[ia] + vectors[ic], vocab, k=k, exclude={ia, ib, ic})


def pca_2d(vectors: Tensor) -> Tensor:
    """(N, E) -> (N, 2) coordinates on the two leading principal components."""
    centred = vectors - vectors.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    return centred @ v[:2].T


def frequent_tokens(vocab: Vocab, count: int, counts: dict[str, int] | None = None) -> list[str]:
    """The `count` most frequent tokens but the special ones, by `counts`, else vocabulary order
    (which is by frequency for word vocabularies)."""
    ranked = sorted(counts, key=counts.get, reverse=True) if counts else vocab.tokens
    return [t for t in ranked if t in vocab.index and t not in _SPECIAL][:count]


def pca_points(model: nn.Module, vocab: Vocab, *, count: int = 200,
               counts: dict[str, int] | None = None) -> tuple[list[str], Tensor]:
    """The `count` most frequent tokens (see `frequent_tokens`) and their input embeddings
    projected on the two leading principal components, (N, 2)."""
    words = frequent_tokens(vocab, count, counts)
    if len(words) < 3:
        raise ValueError(f"need at least 3 tokens to plot, the vocabulary has {len(words)}")
    return words, pca_2d(embedding_matrix(model)[[vocab.index[w] for w in words]])
