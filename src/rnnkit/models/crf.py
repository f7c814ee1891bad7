"""A linear-chain conditional random field over per-token tag scores (Lafferty et al. 2001), the
output layer of a BiLSTM-CRF tagger (Lample et al. 2016, "Neural architectures for named entity
recognition", section 2.2).

    crf = CRF(len(tags), **bio_constraints(tags)._asdict())
    nll = -crf.log_likelihood(emissions, gold, lengths).mean()  # emissions (B, L, T) from the network
    paths = crf.decode(emissions, lengths)                       # [[tag, ...] per row], Viterbi
    probs = crf.marginals(emissions, lengths)                    # (B, L, T) per-token posteriors

Shape letters in this file: B batch, L sequence length (time), T number of tags.

A tag sequence y_1..y_n of a row of length n scores

    s(y) = start[y_1] + sum_t emissions[t, y_t] + sum_{t>1} transitions[y_{t-1}, y_t] + end[y_n]

and p(y | x) = exp s(y) / Z, Z summing exp s over all T^n sequences. log Z comes from the forward
algorithm, the best sequence from Viterbi, and per-token marginals p(y_t = i | x) from
forward-backward, each a loop over time vectorised over the batch and the tags. Steps past a row's
length carry the recursions over unchanged, so padding changes nothing.

Constraints (a BIO scheme's "I-X only after B-X or I-X") replace disallowed scores by NEG, a large
negative *finite* number: with -inf, a row whose gold path is disallowed would give -inf - -inf =
nan gradients, while exp(NEG) is 0 in float32 and float64 alike. Viterbi, which needs no gradient,
uses -inf, so its paths never take a disallowed transition while any allowed path exists.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..data.tag_schemes import split_tag
from ..layers.scan import time_mask

NEG = -1e4


class Constraints(NamedTuple):
    allowed: Tensor        # (T, T) bool: tag j may follow tag i
    allowed_start: Tensor  # (T,) bool: a sequence may begin with the tag
    allowed_end: Tensor    # (T,) bool: a sequence may end with the tag


class CRF(nn.Module):
    """Linear-chain CRF: `transitions[i, j]` scores tag j after tag i, `start` and `end` the first
    and last tag. `allowed`, `allowed_start` and `allowed_end` (bool, default all True) forbid
    transitions, first tags and last tags; see `bio_constraints`."""

    def __init__(self, num_tags: int, *, allowed: Tensor | None = None, allowed_start: Tensor | None = None,
                 allowed_end: Tensor | None = None) -> None:
        super().__init__()
        self.num_tags = num_tags
        # small uniform init, as pytorch-crf and AllenNLP's ConditionalRandomField
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        for name, mask, shape in [("allowed", allowed, (num_tags, num_tags)),
                                  ("allowed_start", allowed_start, (num_tags,)),
                                  ("allowed_end", allowed_end, (num_tags,))]:
            mask = torch.ones(shape, dtype=torch.bool) if mask is None else torch.as_tensor(mask, dtype=torch.bool)
            if mask.shape != shape:
                raise ValueError(f"{name} has shape {tuple(mask.shape)}, expected {shape}")
            self.register_buffer(name, mask)

    def scores(self, disallowed: float = NEG) -> tuple[Tensor, Tensor, Tensor]:
        """(start (T,), transitions (T, T), end (T,)) with disallowed entries set to `disallowed`."""
        return (self.start.masked_fill(~self.allowed_start, disallowed),
                self.transitions.masked_fill(~self.allowed, disallowed),
                self.end.masked_fill(~self.allowed_end, disallowed))

    def forward(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """The same as `log_likelihood`."""
        return self.log_likelihood(emissions, tags, lengths)

    def log_likelihood(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """log p(tags | emissions) per row: s(tags) - log Z. emissions (B, L, T), tags (B, L) long
        (values past a row's length are ignored), lengths (B,) -> (B,)."""
        return self.score(emissions, tags, lengths) - self.log_partition(emissions, lengths)

    def score(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """s(tags) per row, the unnormalised log-score of the given sequences -> (B,)."""
        mask = self._mask(emissions, lengths)                                   # (B, L)
        start, transitions, end = self.scores()
        tags = tags.masked_fill(~mask, 0)             # padding may hold any id (-1, -100, ...)
        emitted = emissions.gather(2, tags[..., None]).squeeze(2)               # (B, L, T) -> (B, L)
        moved = transitions[tags[:, :-1], tags[:, 1:]]                          # (B, L - 1)
        last = tags.gather(1, (lengths.to(tags.device) - 1)[:, None]).squeeze(1)  # (B,)
        zero = emitted.new_zeros(())
        return (start[tags[:, 0]] + torch.where(mask, emitted, zero).sum(1)   # where, not *: inf/nan padding
                + torch.where(mask[:, 1:], moved, zero).sum(1) + end[last])

    def log_partition(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """log Z per row by the forward algorithm -> (B,)."""
        alphas = self._alphas(emissions, self._mask(emissions, lengths))       # (B, L, T)
        return torch.logsumexp(alphas[:, -1] + self.scores()[2], dim=1)  # last step carries the last valid one

    def marginals(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        """p(y_t = i | x) by forward-backward (Rabiner 1989, section III) -> (B, L, T); each valid step
        sums to 1, padding is 0."""
        mask = self._mask(emissions, lengths)                                   # (B, L)
        alphas = self._alphas(emissions, mask)                                  # (B, L, T)
        _, transitions, end = self.scores()
        # beta_t(i) = log sum_j exp(transitions[i, j] + emissions[t + 1, j] + beta_{t+1}(j)); beta = end
        # at a row's last step, and past it (those steps are masked out below)
        beta = end.expand_as(emissions[:, 0])                                   # (B, T)
        betas = [beta]
        for t in range(emissions.size(1) - 2, -1, -1):
            step = torch.logsumexp(transitions + (emissions[:, t + 1] + beta)[:, None, :], dim=2)  # (B, T, T) -> (B, T)
            beta = torch.where(mask[:, t + 1, None], step, end)
            betas.append(beta)
        betas = torch.stack(betas[::-1], dim=1)                                 # (B, L, T)
        # alpha_t(i) + beta_t(i) = log of the summed scores of paths through tag i at t; over i
        # they sum to Z, so a softmax over tags is the division by Z
        return torch.softmax(alphas + betas, dim=2) * mask[..., None]

    def viterbi(self, emissions: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Best tag sequences (B, L) long, -1 past each row's length, and their scores s(y) (B,)."""
        mask = self._mask(emissions, lengths)                                   # (B, L)
        pointers = []
        with torch.no_grad():
            start, transitions, end = self.scores(disallowed=-torch.inf)  # no gradient needed: hard constraint
            best = start + emissions[:, 0]                                      # (B, T)
            stay = torch.arange(self.num_tags, device=emissions.device).expand_as(best)
            for t in range(1, emissions.size(1)):
                best_prev, prev = (best[:, :, None] + transitions).max(dim=1)   # (B, T, T) -> (B, T)
                keep = mask[:, t, None]
                best = torch.where(keep, best_prev + emissions[:, t], best)
                pointers.append(torch.where(keep, prev, stay))  # padding points to itself
            best = best + end
            tag = best.argmax(dim=1)                                            # (B,)
            path = [tag]
            for prev in reversed(pointers):                     # back through padding, then the row
                tag = prev.gather(1, tag[:, None]).squeeze(1)
                path.append(tag)
            path = torch.stack(path[::-1], dim=1).masked_fill(~mask, -1)         # (B, L)
        return path, best.max(dim=1).values

    def decode(self, emissions: Tensor, lengths: Tensor) -> list[list[int]]:
        """Viterbi paths as lists, one of each row's length."""
        paths, _ = self.viterbi(emissions, lengths)
        return [row[:n] for row, n in zip(paths.tolist(), lengths.tolist())]

    def _alphas(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """Forward variables alpha_t(i) = log sum of exp s(y_1..y_t) over prefixes ending in i
        (Rabiner 1989, section III), carried unchanged over padding -> (B, L, T)."""
        start, transitions, _ = self.scores()
        alpha = start + emissions[:, 0]                                         # (B, T)
        alphas = [alpha]
        for t in range(1, emissions.size(1)):
            step = torch.logsumexp(alpha[:, :, None] + transitions, dim=1) + emissions[:, t]  # (B, T, T) -> (B, T)
            alpha = torch.where(mask[:, t, None], step, alpha)
            alphas.append(alpha)
        return torch.stack(alphas, dim=1)

    def _mask(self, emissions: Tensor, lengths: Tensor) -> Tensor:
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags:
            raise ValueError(f"emissions must be (B, L, {self.num_tags}), got {tuple(emissions.shape)}")
        steps = emissions.size(1)
        if lengths.shape != (emissions.size(0),) or not 1 <= int(lengths.min()) <= int(lengths.max()) <= steps:
            raise ValueError(f"lengths must be (B,) in 1..{emissions.size(1)}, got {lengths.tolist()}")
        return time_mask(lengths.to(emissions.device), emissions.size(1))     # (B, L)


def bio_constraints(tags: list[str]) -> Constraints:
    """Allowed transitions of a BIO (IOB2) or, where any tag starts "E-" or "S-", BIOES tag set;
    "O" is outside. BIO: I-X only after B-X or I-X, never first. BIOES (Ratinov & Roth 2009):
    I-X and E-X only after B-X or I-X, and after E-X, S-X or O only O, B-Y or S-Y; a sequence
    starts with O, B or S and ends with O, E or S.

    >>> c = bio_constraints(["O", "B-PER", "I-PER"])
    >>> c.allowed.int().tolist(), c.allowed_start.int().tolist()
    ([[1, 1, 0], [1, 1, 1], [1, 1, 1]], [1, 1, 0])
    """
    parts = [split_tag(tag) for tag in tags]
    bioes = any(prefix in "ES" for prefix, _ in parts)
    inside = "IE" if bioes else "I"                       # prefixes that continue a chunk
    open_ = "BI"                                          # prefixes after which a chunk is still open
    size = len(tags)
    allowed = torch.zeros(size, size, dtype=torch.bool)
    for i, (p, x) in enumerate(parts):
        for j, (q, y) in enumerate(parts):
            if q in inside:
                allowed[i, j] = p in open_ and x == y
            else:                                         # O, B, S begin anew: only after a closed chunk
                allowed[i, j] = not bioes or p not in open_
    start = torch.tensor([p not in inside for p, _ in parts])
    end = torch.tensor([not bioes or p not in open_ for p, _ in parts])
    return Constraints(allowed, start, end)
