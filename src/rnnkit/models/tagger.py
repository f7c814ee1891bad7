"""SequenceTagger: one label per word (part-of-speech tags, named-entity tags).

    e_t = [Embed(word_t); CharBiLSTM(chars of word_t)]    (Lample et al. 2016; Plank et al. 2016)
    y, _ = rnn(dropout(e), lengths)                        (B, L, H): any (bidirectional) Stacked
    scores_t = W dropout(y_t) + b                          (B, L, T) per-word tag scores
    loss = cross-entropy per word (softmax), or -log p(tags) under a linear-chain CRF over the scores

The character representation gives words the model never saw in training (rare names, numbers,
hyphenated words) a vector from their spelling: the final states of a small bidirectional LSTM
over each word's characters, forward and backward concatenated.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers.scan import time_mask

PAD, UNK = 0, 1          # the ids of padding and of the unknown word (and character)


class CharEncoder(nn.Module):
    """Words as character ids (N, C), 0-padded, with lengths (N,) -> (N, 2 H) final states."""

    def __init__(self, alphabet_size: int, embedding_size: int = 25, hidden_size: int = 25) -> None:
        super().__init__()
        self.embedding = nn.Embedding(alphabet_size, embedding_size, padding_idx=PAD)
        self.lstm = nn.LSTM(embedding_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden_size

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(chars), lengths.clamp_min(1).cpu(),
                                                   batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)                                          # (2, N, H)
        return torch.cat([h[0], h[1]], dim=-1)                                 # (N, 2 H)


class SequenceTagger(nn.Module):
    """Sentences as (B, L, 1 + C) ids -> tag scores (B, L, T): each word's id, then its first C
    characters' ids (0-padded; C = 0 without a character encoder). `tags`: the tag names, kept
    with the model so that an evaluation can score entities."""

    def __init__(self, vocab_size: int, num_tags: int, rnn: nn.Module, *, embedding_size: int,
                 chars: CharEncoder | None = None, dropout: float = 0.0, crf: nn.Module | None = None,
                 tags: list[str] | None = None, word_dropout: float = 0.0, rare_from: int | None = None) -> None:
        super().__init__()
        expected = embedding_size + (chars.output_size if chars is not None else 0)
        if rnn.input_size != expected:
            raise ValueError(f"the rnn reads {rnn.input_size} features per word, but the word embedding "
                             f"({embedding_size}) and character encoder give {expected}")
        if tags is not None and len(tags) != num_tags:
            raise ValueError(f"{len(tags)} tag names for {num_tags} tags")
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD)
        self.chars, self.rnn, self.crf = chars, rnn, crf
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(rnn.output_size, num_tags)
        self.num_tags, self.tags = num_tags, tags
        # word dropout (Lample et al. 2016): in training, a rare word (id >= rare_from, e.g. the words
        # seen once) is read as UNK with probability word_dropout, so the UNK embedding learns what an
        # unseen word looks like and the model leans on its characters
        self.word_dropout, self.rare_from = word_dropout, vocab_size if rare_from is None else rare_from

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        """(B, L, 1 + C) word and character ids -> per-word tag scores (B, L, T)."""
        if inputs.dim() != 3:
            raise ValueError(f"inputs must be (B, L, 1 + C) word and character ids, got {tuple(inputs.shape)}")
        chars = inputs[..., 1:] if self.chars is not None else None
        return self.scores(inputs[..., 0], lengths, chars)

    def scores(self, words: Tensor, lengths: Tensor, chars: Tensor | None = None,
               char_lengths: Tensor | None = None) -> Tensor:
        """Per-word tag scores (B, L, T) (a CRF's emissions). `chars` (B, L, C) 0-padded, their
        lengths (B, L) counted from the nonzero ids unless given."""
        if self.training and self.word_dropout:
            drop = (words >= self.rare_from) & (torch.rand(words.shape, device=words.device) < self.word_dropout)
            words = words.masked_fill(drop, UNK)
        x = self.embedding(words)                                              # (B, L, E)
        if self.chars is not None:
            if chars is None:
                raise ValueError("this tagger reads each word's characters: pass chars")
            if char_lengths is None:
                char_lengths = (chars != PAD).sum(-1)
            B, L, _ = chars.shape
            # only the real words go through the character LSTM (not the padding after each sentence)
            real = time_mask(lengths.to(words.device), L)                      # (B, L)
            n = char_lengths[real]                                             # (N,)
            spelled = x.new_zeros(B, L, self.chars.output_size)
            spelled[real] = self.chars(chars[real][:, :max(int(n.max()), 1)], n).to(x.dtype)
            x = torch.cat([x, spelled], dim=-1)                                # (B, L, E + 2 Hc)
        y, _ = self.rnn(self.dropout(x), None, lengths)                        # (B, L, H)
        return self.head(self.dropout(y))                                      # (B, L, T)

    def loss(self, scores: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """Mean per-sentence negative log-likelihood under the CRF, or mean per-word cross-entropy."""
        if self.crf is not None:
            return -self.crf.log_likelihood(scores, tags.clamp_min(0), lengths).mean()   # padding may be < 0
        mask = torch.arange(tags.size(1), device=tags.device)[None] < lengths[:, None].to(tags.device)
        return F.cross_entropy(scores[mask], tags[mask])

    def decode(self, scores: Tensor, lengths: Tensor) -> list[list[int]]:
        """Each sentence's best tag ids: Viterbi under the CRF, or the per-word argmax."""
        if self.crf is not None:
            return self.crf.decode(scores, lengths)
        best = scores.argmax(-1)
        return [best[b, :n].tolist() for b, n in enumerate(lengths.tolist())]

    def probabilities(self, scores: Tensor, lengths: Tensor) -> Tensor:
        """Per-word tag probabilities (B, L, T): CRF marginals, or the softmax."""
        if self.crf is not None:
            return self.crf.marginals(scores, lengths)
        return scores.softmax(-1)
