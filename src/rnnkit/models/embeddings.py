"""Queries on a language model's trained input embeddings: nearest words, analogies, a PCA plot.

    nearest(model, vocab, "king", k=10)           # [(word, cosine similarity), ...]
    analogy(model, vocab, "man", "king", "woman")  # a : b :: c : ?  via b - a + c (Mikolov et al. 2013)
    plot_pca(model, vocab, "words.png", count=300) # 2-D projection of the most frequent tokens
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..data.text import EOS, UNK, UNK_CHAR, Vocab
from ..plots.png import save_png

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


def plot_pca(model: nn.Module, vocab: Vocab, path: str | Path, *, count: int = 200,
             counts: dict[str, int] | None = None) -> Path:
    """Saves a PNG of the `count` most frequent tokens (by `counts`, else vocabulary order,
    which is by frequency for word vocabularies) projected on two principal components."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("the PCA plot needs matplotlib: pip install 'rnnkit[plot]'") from e
    words = [t for t in (sorted(counts, key=counts.get, reverse=True) if counts else vocab.tokens)
             if t in vocab.index and t not in _SPECIAL][:count]
    if len(words) < 3:
        raise ValueError(f"need at least 3 tokens to plot, the vocabulary has {len(words)}")
    xy = pca_2d(embedding_matrix(model)[[vocab.index[w] for w in words]]).numpy()
    fig, ax = plt.subplots(figsize=(12, 12))
    ax.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.4)
    for (x, y), w in zip(xy, words):
        ax.annotate(repr(w)[1:-1], (x, y), fontsize=7)
    ax.set_title(f"PCA of the input embeddings of the {len(words)} most frequent tokens")
    return save_png(fig, path)
